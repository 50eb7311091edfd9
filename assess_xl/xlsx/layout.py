"""What the writing and the reading side share: sheet names, headers, metadata keys, limits, and how
names are compared and shown. Both publish/ and read/ import this module; neither imports the other.
How a written workbook looks is xlsx.style's."""
from __future__ import annotations

import functools
import re
import unicodedata

from assess_xl.problems import Code, Problem, make

TOOL = "assess-xl"
FORM_VERSION = 1
META_SHEET = "填报表信息"
GUIDE_SHEET = "填报说明"
RETURN_SHEET = "退回说明"  # first sheet of a return copy
RESULT_META_SHEET = "结果信息"  # hidden sheet of the scorecard and the status workbook
CONTEXT_HEADERS = ["编号", "项目", "环保目标", "考核细则", "填报指标", "单位", "填写说明"]
CONTEXT_WIDTHS = [7, 11, 28, 34, 26, 5, 18]
HEADER_ROW = 2  # zero-based: title, hint line, then the header
FILES_COLUMN = "提供文件"
SCORECARD_SHEETS = ("汇总", "得分明细", "问题清单", "来源")
STATUS_SHEET = "填报情况"

# Names the tool itself uses for columns and sheets: a district may not be called any of them.
RESERVED_NAMES = (*CONTEXT_HEADERS, FILES_COLUMN, *SCORECARD_SHEETS, META_SHEET, GUIDE_SHEET, RETURN_SHEET,
                  RESULT_META_SHEET, STATUS_SHEET, "评分说明", "调整记录", "部门", "区", "History")

# Limits of a run, checked when forms are made so that collect never refuses the tool's own forms.
MAX_DISTRICTS = 500
MAX_DISTRICT_NAME = 60
MAX_META_CELL = 32_767  # Excel's limit on the text of one cell

_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")
# Unicode's control (Cc), format (Cf: bidi controls, zero-width characters, tags), line/paragraph
# separators and lone surrogates: invisible, or able to reorder the text around them.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
                     "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff"
                     "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
                     "\U000e0001\U000e0020-\U000e007f]")


def normalise_text(raw: str) -> str:
    """What a person meant: full-width digits and signs made half-width, NBSP and invisible
    characters removed, surrounding space stripped."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", raw)).strip()


def name_key(name: object) -> str:
    """The one way names (districts, departments, headers) are compared: full-width and half-width
    alike, invisible characters and all white space ignored, case ignored. `高新区（虎丘区）` and
    `高新区(虎丘区)` are the same district."""
    return _SPACE.sub("", normalise_text("" if name is None else str(name))).casefold()


# name_key of texts a run compares again and again (sheet names, headers, the run's district names), kept per process
repeated_name_key = functools.lru_cache(maxsize=1 << 14)(name_key)


_LIST_SEPARATORS = re.compile(r"[,，、;；\s\u3000]+")
_COMMAS = re.compile(r"[,，、;；]+")


def split_district_names(text: str) -> list[str]:
    """District names as a person writes a list: one per line (a list file, or a pasted column); on one
    line separated by commas, 顿号 or semicolons (names may then hold spaces), or else by spaces."""
    text = text.lstrip("\ufeff")
    if "\n" in text.strip():
        return [line.strip() for line in text.splitlines() if line.strip()]
    separators = _COMMAS if _COMMAS.search(text) else _LIST_SEPARATORS
    return [name.strip() for name in separators.split(text) if name.strip()]


def district_name_problems(names: list[str]) -> list[Problem]:
    """Every reason why a district list cannot be used for forms (catalogue problems); empty when it can."""
    problems = []
    if not names:
        problems.append(make(Code.DISTRICTS_EMPTY))
    if len(names) > MAX_DISTRICTS:
        problems.append(make(Code.DISTRICTS_TOO_MANY, count=len(names), limit=MAX_DISTRICTS))
    reserved = {name_key(r): r for r in RESERVED_NAMES}
    seen: dict[str, str] = {}
    for name in names:
        key = name_key(name)
        if not key:
            problems.append(make(Code.DISTRICT_NAME_BLANK, district=name))
            continue
        if _HIDDEN.search(name):
            problems.append(make(Code.DISTRICT_NAME_HIDDEN, district=printable(name)))
        if len(name) > MAX_DISTRICT_NAME:
            problems.append(make(Code.DISTRICT_NAME_TOO_LONG, start=name[:20], length=len(name), limit=MAX_DISTRICT_NAME))
        if key in reserved:
            problems.append(make(Code.DISTRICT_NAME_RESERVED, district=name, reserved=reserved[key]))
        if key in seen:
            problems.append(make(Code.DISTRICT_NAME_REPEATED, district=name) if seen[key] == name
                            else make(Code.DISTRICT_NAME_SIMILAR, district=name, other=seen[key]))
        seen.setdefault(key, name)
    return problems


@functools.lru_cache(maxsize=1 << 14)
def column_letters(col: int) -> str:
    """A zero-based column number as Excel names it: 0 → A, 25 → Z, 26 → AA. The reader children use it
    instead of xlsxwriter.utility, whose import loads all of xlsxwriter."""
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def column_number(letters: str) -> int:
    """The zero-based column Excel names `letters`, in either case: A → 0, AA → 26 (column_letters the other way)."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number - 1


def cell_name(row: int, col: int) -> str:
    """A zero-based cell position as Excel names it: (0, 0) → A1, (6, 27) → AB7."""
    return f"{column_letters(col)}{row + 1}"


FETCH_RECORD = ".已检查的邮件.txt"  # fetch's list of messages read, kept in its output folder: not an input


def printable(text: str) -> str:
    """The one way untrusted text (a file or attachment name, a header) is shown: control, format
    and bidirectional characters (RLO U+202E, zero-width space…) as visible `<U+202E>`, so a name
    cannot hide or reorder what a person reads."""
    return _HIDDEN.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


MAX_SHEET_NAME = 31  # Excel's limit on a sheet's name
BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
_OWN_SHEETS = (META_SHEET, GUIDE_SHEET, RETURN_SHEET, RESULT_META_SHEET, "History")


def sheet_name_problem(name: str) -> str:
    """Why `name` cannot be a sheet's name as it is written (Excel's rules, and our own sheets), or ''."""
    if not name.strip():
        return "是空白的"
    if _HIDDEN.search(name):
        return "含有控制字符或不可见字符（如换行、制表符、从右到左标记）"
    if BAD_SHEET_CHARS.search(name):
        return "含有Excel工作表名不允许的字符（[ ] : * ? / \\）"
    if len(name) > MAX_SHEET_NAME:
        return f"有{len(name)}个字符，超过Excel工作表名的上限{MAX_SHEET_NAME}个字符"
    if name.startswith("'") or name.endswith("'"):
        return "以单引号开头或结尾（Excel不允许）"
    own = {name_key(s): s for s in _OWN_SHEETS}.get(name_key(name))
    return f"与本工具使用的工作表名“{own}”相同" if own else ""


_BAD_FILE_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_DEVICE_NAMES = re.compile(r"(?i)^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)")
MAX_FILE_NAME = 120


def safe_file_name(name: str) -> str:
    """The one way a file name is made from names we were given (departments, districts): one file in
    its folder on every system — no separators or characters Windows forbids, no leading dot, no
    device name, not too long (the suffix kept)."""
    cleaned = _BAD_FILE_CHARS.sub("_", printable(name)).strip(" .") or "_"
    if _DEVICE_NAMES.match(cleaned):
        cleaned = "_" + cleaned
    if len(cleaned) > MAX_FILE_NAME:
        stem, dot, suffix = cleaned.rpartition(".")
        keep = f".{suffix}" if dot and len(suffix) <= 8 else ""
        cleaned = cleaned[:MAX_FILE_NAME - len(keep)].rstrip(" .") + keep
    return cleaned

