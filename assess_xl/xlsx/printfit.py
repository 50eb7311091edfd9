"""What fits on a printed sheet: how many lines wrapped text takes in a column, how tall a row must be,
how wide a column must be for a number, the print scale and where pages break.

Text is measured twice and the larger need wins: with the metrics of the font LibreOffice prints the
workbook in (the Simplified Chinese face of Noto Serif CJK, which publish.FONT_ALIASES puts in place of 宋体;
found as fc-match finds it, asking libfontconfig, measured with FreeType through Pillow), and as Excel and WPS lay out 宋体 (every
Chinese character one em, other characters half an em, in a column 0.75 points per pixel). Column
widths are given in Excel's character units: Excel makes a column of width w 7w + 5 pixels wide,
LibreOffice the width xlsxwriter stores times the widest digit of the workbook's default font in the face
this machine gives it (digit_width: 7 points here, so 7w + 5 points, which the line counts assume)."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import itertools
import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assess_xl.xlsx import textwidths

if TYPE_CHECKING:
    from assess_xl.xlsx.textwidths import Face

SERIF_SC = "Noto Serif CJK SC"
LINE_EM = 1.437  # Noto CJK's ascent + descent (1151 + 286 units of 1000); used when the font is missing
CELL_PADDING = 4.0  # points above and below the text of a cell, both together
SIDE_PADDING = 4.0  # points left and right of the text of a cell, both together
A4_LANDSCAPE = (841.9, 595.3)  # points
DEFAULT_FONT, DEFAULT_SIZE = "Calibri", 11  # the workbook's default font (xlsxwriter's): column widths count its digits
DEFAULT_WIDTH = 8.43  # a column's width where none is set
EXCEL_DIGIT = 7  # pixels of a digit of Calibri 11 in Excel, in which xlsxwriter writes column widths
_OPENING, _CLOSING = "（「『【《〈“‘(", "，。、；：！？）」』】》〉”’,.;:!?)%"
# What a line never breaks inside: a run of Latin letters and digits, or one character, each with the
# opening punctuation before it and the closing punctuation after it (no line starts with ，。、 or ends with “（).
_WORD = re.compile(rf"[{_OPENING}]*(?:[A-Za-z0-9.%+\-]+|\S)[{re.escape(_CLOSING)}]*|\s", re.S)


@dataclass(frozen=True)
class Margins:
    """Page margins in inches, as xlsxwriter's set_margins takes them."""
    left: float = 0.4
    right: float = 0.4
    top: float = 0.5
    bottom: float = 0.5


@functools.cache
def _font(bold: bool) -> Face | None:
    """The printing font at 1000 units per em, or None where fontconfig or the font is missing."""
    font = _matched(f"{SERIF_SC}:{'bold' if bold else 'regular'}")
    return font if font is not None and font.name()[0] == SERIF_SC else None


def _matched(pattern: str) -> Face | None:
    """The font fontconfig gives for `pattern` on this machine, at 1000 units per em (None without fontconfig),
    measured as before on this machine where it was (textwidths)."""
    found = _found_ahead(pattern)
    return textwidths.face(*found) if found is not None else None


PRINTING_PATTERNS = (f"{SERIF_SC}:regular", f"{SERIF_SC}:bold", f"{DEFAULT_FONT}:size={DEFAULT_SIZE}")
_AHEAD: dict[str, tuple[str, int] | None] = {}  # fontconfig's answers found ahead, each taken once
_finding: list[threading.Thread] = []


def find_fonts_ahead() -> None:
    """Ask libfontconfig for the printing fonts now, on a thread of its own, while this process goes on with
    other work (collect: importing pandas). Its first match reads fontconfig's configuration and caches, about
    7 ms, and the interpreter runs on meanwhile (ctypes lets go of its lock in each call). _matched takes the
    answers, waiting for the thread first."""
    if not _finding:
        _finding.append(threading.Thread(target=_find_ahead, name="printing fonts", daemon=True))
        _finding[0].start()


def _find_ahead() -> None:
    for pattern in PRINTING_PATTERNS:
        try:
            _AHEAD[pattern] = _fontconfig_match(pattern)
        except Exception:  # asked again where it is needed, and fails there as it would have
            return


def _found_ahead(pattern: str) -> tuple[str, int] | None:
    """fontconfig's answer for `pattern`: the one found ahead when there is one, else asked now."""
    while _finding:
        _finding.pop().join()
    return _AHEAD.pop(pattern) if pattern in _AHEAD else _fontconfig_match(pattern)


def _fontconfig_match(pattern: str) -> tuple[str, int] | None:
    """The file and face index that `fc-match pattern` prints, asked of libfontconfig in this process (the
    pattern parsed, the configuration's and the default substitutions made, the best match taken), instead of
    starting fc-match once per font (three processes: 25 ms of CPU and more of waiting per scorecard)."""
    fontconfig = _fontconfig()
    if fontconfig is None:
        return None
    wanted = fontconfig.FcNameParse(pattern.encode())
    if not wanted:
        return None
    try:
        fontconfig.FcConfigSubstitute(None, wanted, 0)  # FcMatchPattern
        fontconfig.FcDefaultSubstitute(wanted)
        result = ctypes.c_int()
        best = fontconfig.FcFontMatch(None, wanted, ctypes.byref(result))
    finally:
        fontconfig.FcPatternDestroy(wanted)
    if not best:
        return None
    try:
        file, index = ctypes.c_char_p(), ctypes.c_int()
        if fontconfig.FcPatternGetString(best, b"file", 0, ctypes.byref(file)) != 0 or file.value is None:
            return None
        fontconfig.FcPatternGetInteger(best, b"index", 0, ctypes.byref(index))
        return os.fsdecode(file.value), index.value
    finally:
        fontconfig.FcPatternDestroy(best)


def _loaded(name: str) -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


@functools.cache
def _fontconfig() -> ctypes.CDLL | None:
    """libfontconfig with the signatures used here, or None where it is not installed."""
    library = _loaded("libfontconfig.so.1") or _loaded("libfontconfig.1.dylib")
    if library is None:  # elsewhere: ask the system where it is (ldconfig: slower, hence last)
        found = ctypes.util.find_library("fontconfig")
        library = _loaded(found) if found else None
    if library is None:
        return None
    pointer, text, number = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    signatures = {"FcNameParse": ([text], pointer), "FcConfigSubstitute": ([pointer, pointer, number], number),
                  "FcDefaultSubstitute": ([pointer], None), "FcPatternDestroy": ([pointer], None),
                  "FcFontMatch": ([pointer, pointer, ctypes.POINTER(number)], pointer),
                  "FcPatternGetString": ([pointer, text, number, ctypes.POINTER(text)], number),
                  "FcPatternGetInteger": ([pointer, text, number, ctypes.POINTER(number)], number)}
    for function, (arguments, result) in signatures.items():
        getattr(library, function).argtypes, getattr(library, function).restype = arguments, result
    return library


@functools.cache
def digit_width() -> float:
    """Points that one unit of a column's width takes where LibreOffice prints: the widest digit of the
    workbook's default font (xlsxwriter's Calibri 11) in the font fontconfig gives for it on this machine
    (DejaVu Sans where neither Calibri nor Carlito is installed: 7 points), in whole twips, as LibreOffice
    takes a character's width. Without fontconfig, Excel's 7 pixels of Calibri, taken as points."""
    font = _matched(f"{DEFAULT_FONT}:size={DEFAULT_SIZE}")
    if font is None:
        return float(EXCEL_DIGIT)
    widest = max(font.length(digit) for digit in "0123456789") / 1000 * DEFAULT_SIZE
    return round(widest * 20) / 20


def stored_width(width: float) -> float:
    """The width xlsxwriter writes to the file for a column set to `width`: its pixels counted in digits
    (7 pixels, Excel's Calibri 11) to 1/256."""
    return excel_pixels(width) * 256 // EXCEL_DIGIT / 256


def excel_pixels(width: float) -> int:
    """Pixels of a column set to `width` in Excel (whole pixels of its digits plus 5 of padding), as
    xlsxwriter converts it and places drawings."""
    return 0 if width <= 0 else int(width * (EXCEL_DIGIT + 5) + 0.5) if width < 1 else int(width * EXCEL_DIGIT + 0.5) + 5


@functools.cache
def line_height(size: float, bold: bool = False) -> float:
    font = _font(bold)
    if font is None:
        return LINE_EM * size
    ascent, descent = font.metrics()
    return max(ascent + descent, LINE_EM * 1000) / 1000 * size


@functools.lru_cache(maxsize=1 << 16)
def _printed_width(token: str, size: float, bold: bool) -> float:
    """Points `token` takes in the printing font (measured once per token: FreeType's layout of a string
    is the slowest step of writing a scorecard, and the same characters recur on every district's sheet)."""
    font = _font(bold)
    return font.length(token) / 1000 * size if font is not None else _simsun_width(token, size)


@functools.lru_cache(maxsize=1 << 16)
def _simsun_width(token: str, size: float) -> float:
    return sum(size / 2 if ord(c) < 0x2E80 or 0xFF61 <= ord(c) <= 0xFFDC else size for c in token)


@dataclass(frozen=True)
class _Paragraph:
    """A paragraph's pieces (_WORD), their widths in the printing font and in 宋体, and for each the
    largest running sum of the widths added left to right (as _lines adds them)."""
    tokens: list[str]
    printed: list[float]
    simsun: list[float]
    printed_run: float
    simsun_run: float


@functools.lru_cache(maxsize=1 << 14)  # the same lines (a target's text, '是否完成：是') recur on every district's sheet
def _paragraph(paragraph: str, size: float, bold: bool) -> _Paragraph:
    pieces = [_piece(piece, size, bold) for piece in _PIECE.findall(paragraph)]
    if len(pieces) == 1:
        tokens, printed, simsun = pieces[0]
    else:
        chained = itertools.chain.from_iterable
        tokens = list(chained(piece[0] for piece in pieces))
        printed = list(chained(piece[1] for piece in pieces))
        simsun = list(chained(piece[2] for piece in pieces))
    return _Paragraph(tokens, printed, simsun, _longest_run(printed), _longest_run(simsun))


# A paragraph's pieces: each ends after a ；，or ： and the closing punctuation that follows it, so that the
# next piece starts with what no token ends with (neither closing punctuation nor, after those, a letter or
# digit: they are not _WORD's letters and digits). Its tokens are then the tokens of its pieces one after another,
# and a piece (a clause of an explanation, '是否完成：') recurs where its paragraph does not.
_SEPARATORS = "；，："
_PIECE = re.compile(rf"[^{_SEPARATORS}]*[{_SEPARATORS}][{re.escape(_CLOSING)}]*|[^{_SEPARATORS}]+", re.S)


@functools.lru_cache(maxsize=1 << 14)
def _piece(piece: str, size: float, bold: bool) -> tuple[list[str], list[float], list[float]]:
    """A piece of a paragraph: its tokens (_WORD) and their widths in the printing font and in 宋体."""
    tokens = _WORD.findall(piece)
    printed = _known_widths(tokens, _PRINTED.setdefault((size, bold), {}), lambda token: _printed_width(token, size, bold))
    simsun = _known_widths(tokens, _SIMSUN.setdefault(size, {}), lambda token: _simsun_width(token, size))
    return tokens, printed, simsun


def forget() -> None:
    """Everything measured or worked out in this process forgotten: the next text is measured afresh (for tests)."""
    for cached in (_font, digit_width, line_height, lines_needed, _paragraph, _piece, _printed_width, _simsun_width):
        cached.cache_clear()
    _PRINTED.clear()
    _SIMSUN.clear()


_PRINTED: dict[tuple[float, bool], dict[str, float]] = {}  # per size and weight: each token's width, as measured
_SIMSUN: dict[float, dict[str, float]] = {}
MOST_KNOWN = 1 << 16  # tokens known per size and weight before they are forgotten


def _known_widths(tokens: list[str], known: dict[str, float], width: Callable[[str], float]) -> list[float]:
    """The width of each token: looked up in `known` at once (the same characters recur on every sheet),
    and `width(token)` for those not known yet, kept."""
    try:
        return list(map(known.__getitem__, tokens))
    except KeyError:
        pass
    if len(known) > MOST_KNOWN:
        known.clear()
    widths = []
    for token in tokens:
        found = known.get(token)
        if found is None:
            found = known[token] = width(token)
        widths.append(found)
    return widths


def _longest_run(widths: list[float]) -> float:
    """The largest running sum of `widths` added left to right (0 for none): the widest a line of them gets."""
    return max(itertools.accumulate(widths, initial=0.0))


def _lines(tokens: list[str], widths: list[float], longest_run: float, room: float) -> int:
    """Lines of one paragraph's tokens wrapped greedily into `room` points, breaking only between them.
    The running sum a break compares with the room is the same as `longest_run`'s until the first
    break, so when the longest run fits nothing breaks and the loop is skipped."""
    if longest_run <= room:
        return 1
    count, used = 1, 0.0
    for token, width in zip(tokens, widths):
        if used and used + width > room:
            count += 1
            used = 0.0 if token.isspace() else width
        else:
            used += width
    return count


@functools.lru_cache(maxsize=1 << 14)  # every district's sheet wraps the same target texts in the same columns
def lines_needed(text: str, width: float, size: float = 10, bold: bool = False) -> int:
    """Lines a cell's wrapped text takes in a column of Excel width `width`, in LibreOffice or in Excel,
    whichever needs more; each paragraph (see `paragraphs`) starts a line."""
    printed_room, excel_room = 7 * width + 5 - SIDE_PADDING, 0.75 * (7 * width + 5) - SIDE_PADDING
    printed = excel = 0
    for paragraph in paragraphs(text):
        measured = _paragraph(paragraph, size, bold)
        printed += _lines(measured.tokens, measured.printed, measured.printed_run, printed_room)
        excel += _lines(measured.tokens, measured.simsun, measured.simsun_run, excel_room)
    return max(printed, excel)


# What ends a paragraph: a line feed, and what the printing font's layout (raqm) also takes for one and will not
# measure inside a line (a carriage return, on its own or before a line feed, a next-line character, the
# information separators, the paragraph separator), as a text from a returned form can hold.
_PARAGRAPH_END = re.compile("\r\n|[\n\r\x1c-\x1e\x85\u2029]")


def paragraphs(text: str) -> list[str]:
    """The paragraphs of a cell's text, each starting a line."""
    return _PARAGRAPH_END.split(text) if not text.isprintable() else [text]


def row_height(cells: Sequence[tuple[str, float]], size: float = 10, bold: bool = False, least: float = 0) -> float:
    """Points a row must be tall for each (text, column width) of it to show whole."""
    lines = max((lines_needed(text, width, size, bold) for text, width in cells if text), default=1)
    return max(least, round(lines * line_height(size, bold) + CELL_PADDING + 0.5))


def merged_width(widths: Sequence[float]) -> float:
    """The Excel width of one column as wide as `widths` side by side (each column is 7w + 5 units)."""
    return (sum(7 * w + 5 for w in widths) - 5) / 7


def width_for(text: str, size: float = 10, bold: bool = False) -> float:
    """The Excel width of a column that shows `text` (a number, which never wraps) whole in both programs."""
    points = max(_printed_width(text, size, bold), _simsun_width(text, size)) + SIDE_PADDING + 2
    return max((points - 5) / 7, (points / 0.75 - 5) / 7)


def print_scale(widths: Sequence[float], margins: Margins = Margins()) -> int:
    """The whole percent at which the columns fill the width of an A4 landscape page in LibreOffice on this
    machine, the zoom it would find itself when fitting them to the page's width (in Excel, whose columns
    are narrower, they fit too)."""
    room = A4_LANDSCAPE[0] - 72 * (margins.left + margins.right)
    return max(10, min(100, int(100 * room / (digit_width() * sum(stored_width(w) for w in widths)))))


def columns_beyond(widths: Sequence[float], pixels: int) -> list[float]:
    """The widths of the columns past `widths` that a drawing `pixels` wide from column A reaches into (of
    the default width, 8.43): they are printed too."""
    covered = sum(excel_pixels(w) for w in widths)
    return [DEFAULT_WIDTH] * max(0, math.ceil((pixels - covered) / excel_pixels(DEFAULT_WIDTH)))


def run_on(widths: Sequence[float], lines: Sequence[tuple[str, float, bool]]) -> list[float]:
    """`widths` and the default-width columns past them into which a line of unwrapped text of the first
    column (text, size, bold) runs on, as LibreOffice prints (and fits to the page) what runs into empty
    columns to the right; measured in the printing font."""
    printed = list(widths)
    for text, size, bold in lines:
        needed = _printed_width(text, size, bold) + SIDE_PADDING
        while digit_width() * sum(stored_width(w) for w in printed) < needed:
            printed.append(DEFAULT_WIDTH)
    return printed


def page_room(scale: int, repeated: float, margins: Margins = Margins()) -> float:
    """Points of sheet rows that fit on one A4 landscape page at `scale`, after the repeated title rows,
    with 3% kept back so that no program's rounding moves a row to the next page."""
    body = A4_LANDSCAPE[1] - 72 * (margins.top + margins.bottom)
    return body * 100 / scale * 0.97 - repeated


def page_breaks(heights: Sequence[float], blocks: Sequence[Sequence[int]], room: float, first: int) -> list[int]:
    """Rows before which a new page starts. `heights` are the rows from `first` on; each block is a run
    of row numbers that belongs together (a category's 小计 and its targets): a block that fits on a page
    is never split; one longer than a page starts a new page and breaks between its rows, never after
    its first row alone."""
    breaks: list[int] = []
    used = 0.0
    for block in blocks:
        tall = sum(heights[r - first] for r in block)
        if used and used + tall > room:
            breaks.append(block[0])
            used = 0.0
        if tall <= room:
            used += tall
            continue
        for n, r in enumerate(block):
            height = heights[r - first] + (heights[block[1] - first] if n == 0 and len(block) > 1 else 0)
            if used and used + height > room and n > 1:
                breaks.append(r)
                used = 0.0
            used += heights[r - first]
    return breaks
