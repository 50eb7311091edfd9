"""The result as documents a bureau issues: the official sheets of the scorecard as a PDF (rendered by
LibreOffice, the engine that prints the workbook exactly as a person sees it), and one notice (通报)
per district as a Word document in the layout of a government notice, styled by a template the
coordinator can restyle in Word. Takes and returns bytes; LibreOffice runs in a private temporary
folder that is removed afterwards."""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pandas as pd

from assess_xl.xlsx import ownbooks

from assess_xl import problems as P
from assess_xl.rules.components import fmt_number
from assess_xl.xlsx.layout import RESULT_META_SHEET, TOOL, printable
from assess_xl.publish.scorecard import WORKING_SHEETS, Signature, points_out_of_reach
from assess_xl.rules.model import Rulebook
from assess_xl.score.scoring import MISSING, Scores
from assess_xl.problems import Code

SOFFICE_TIMEOUT = 600
# The workbook and the notices name the fonts of Chinese offices (宋体, 仿宋_GB2312, 黑体…); where they are
# not installed, they are rendered with Simplified Chinese Noto fonts rather than whatever comes first. Added to
# the machine's own font set-up (FONTCONFIG_FILE where set), with which xlsx.printfit measured the fonts.
FONT_ALIASES = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">{machine}</include>
""" + "".join(f"""  <alias binding="same"><family>{name}</family><prefer><family>{noto}</family></prefer></alias>
""" for name, noto in (("宋体", "Noto Serif CJK SC"), ("SimSun", "Noto Serif CJK SC"),
                       ("仿宋_GB2312", "Noto Serif CJK SC"), ("仿宋", "Noto Serif CJK SC"),
                       ("方正小标宋简体", "Noto Serif CJK SC"), ("黑体", "Noto Sans CJK SC"),
                       ("SimHei", "Noto Sans CJK SC"))) + "</fontconfig>\n"
CHINESE_NUMBERS = "一二三四五六七八九十"
NO_LOSS = "各项目标均得满分，没有扣分。"
NO_LOSS_OF_REACH = "各项目标均得到评分细则所能给的最高分，没有扣分。"
TEMP_PREFIX = "assess-xl-lo-"
# LibreOffice's profile for our runs: links to other documents never updated, linked pictures from
# untrusted documents never fetched, macros never run. And its graphics self-test skipped: LibreOffice runs it
# (1 s of CPU, most of its start) whenever the profile's last version is older than its own, which in a fresh
# profile is always; a later version than any released is named, so the test never runs.
_SCRIPTING = "/org.openoffice.Office.Common/Security/Scripting"
SOFFICE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
""" + "".join(f"""<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse"><value>{value}</value></prop></item>
""" for path, name, value in (("/org.openoffice.Office.Calc/Content/Update", "Link", 1),  # 1: never
                              (_SCRIPTING, "BlockUntrustedRefererLinks", "true"),
                              (_SCRIPTING, "MacroSecurityLevel", 3), (_SCRIPTING, "DisableMacrosExecution", "true"),
                              ("/org.openoffice.Setup/Product", "ooSetupLastVersion", "999.0"))
              ) + "</oor:items>\n"
_SHEET_TAG = re.compile(rb"<sheet\b[^>]*/>")
_NAME = re.compile(rb'\bname="([^"]*)"')


class PublishError(P.AssessError):
    """A document could not be made; the problem says why and what to do."""


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


# ---- PDF ------------------------------------------------------------------------------------

def official_pdf(scorecard: bytes) -> bytes:
    """汇总 with its chart, then each district's sheet (each starts a page), A4, fonts embedded:
    the working sheets are hidden in a copy before LibreOffice prints it, so they are not in it."""
    return convert(official_only(scorecard), "考核结果.xlsx", "pdf:calc_pdf_Export")


def own_scorecard(path: Path) -> bytes:
    """The bytes of a scorecard this tool wrote, else PublishError saying why not: read through the
    returns' door (pre-flight, parsed in a child), its hidden 结果信息 says so, and it refers to nothing
    outside itself (this tool writes no external links, so a look-alike cannot make LibreOffice fetch)."""
    try:
        sheets = ownbooks.read(path, path.name)
    except ownbooks.OwnWorkbookError as exc:
        raise PublishError(replace(exc.problem, message=f"{path.name}：{exc.problem.message}")) from None
    meta = sheets.get(RESULT_META_SHEET)
    fields = {row[0]: row[1] for row in (meta.rows if meta else []) if len(row) >= 2}
    if fields.get("tool") != TOOL or fields.get("kind") != "scorecard":
        raise PublishError(P.make(Code.PDF_NOT_SCORECARD, file=path.name))
    content = path.read_bytes()
    targets = external_targets(content)
    if targets:
        raise PublishError(P.make(Code.PDF_EXTERNAL, file=path.name, targets="、".join(targets[:3])))
    return content


_EXTERNAL = re.compile(rb"""<(?:\w+:)?Relationship\b[^>]*\bTargetMode\s*=\s*["']External["'][^>]*>""", re.I)
_TARGET = re.compile(rb"""\bTarget\s*=\s*["']([^"']*)["']""")


def external_targets(content: bytes) -> list[str]:
    """What a workbook refers to outside itself: external relationships (linked pictures, links to
    other workbooks, hyperlinks) and external-link parts."""
    found = []
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if name.lower().startswith("xl/externallinks/"):
                found.append(name)
            elif name.endswith(".rels"):
                for tag in _EXTERNAL.findall(archive.read(name)):
                    target = _TARGET.search(tag)
                    found.append(printable(target.group(1).decode("utf-8", "replace"))[:200] if target else name)
    return found


def official_only(scorecard: bytes) -> bytes:
    """A copy of the scorecard with its working sheets hidden (the chart and formats kept intact)."""
    source = zipfile.ZipFile(io.BytesIO(scorecard))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/workbook.xml":
                data = _SHEET_TAG.sub(_hide_working, data)
            target.writestr(item, data)
    return buffer.getvalue()


def _hide_working(match: re.Match) -> bytes:
    tag = match.group(0)
    name = _NAME.search(tag)
    if name is None or name.group(1).decode("utf-8") not in WORKING_SHEETS or b"state=" in tag:
        return tag
    return tag[:-2] + b' state="hidden"/>'


def convert(content: bytes, name: str, target: str) -> bytes:
    """One document converted by LibreOffice headless (`target` as --convert-to takes it)."""
    soffice = soffice_path()
    if soffice is None:
        raise PublishError(P.make(Code.SOFFICE_MISSING))
    with private_folder() as folder:
        source = Path(folder) / name
        source.write_bytes(content)
        command = [soffice, f"-env:UserInstallation=file://{folder}/profile", "--headless", "--norestore",
                   "--convert-to", target, "--outdir", folder, str(source)]
        settings = Path(folder) / "profile" / "user" / "registrymodifications.xcu"
        settings.parent.mkdir(parents=True)
        settings.write_text(SOFFICE_SETTINGS, encoding="utf-8")
        fonts = Path(folder) / "fonts.conf"
        machine = os.path.abspath(os.environ.get("FONTCONFIG_FILE") or "/etc/fonts/fonts.conf")
        fonts.write_text(FONT_ALIASES.replace("{machine}", escape(machine)), encoding="utf-8")
        environment = {**os.environ, "FONTCONFIG_FILE": str(fonts)}
        try:
            subprocess.run(command, capture_output=True, timeout=SOFFICE_TIMEOUT, check=False, env=environment)
        except subprocess.TimeoutExpired:
            raise PublishError(P.make(Code.SOFFICE_FAILED, reason=f"超过{SOFFICE_TIMEOUT}秒")) from None
        produced = source.with_suffix("." + target.split(":")[0])
        if not produced.exists():
            raise PublishError(P.make(Code.SOFFICE_FAILED, reason="没有生成文件"))
        return produced.read_bytes()


@contextmanager
def private_folder():
    """A folder for one LibreOffice run, named for this process so that the next run can remove it
    if this one is killed (kill -9 skips every cleanup; the folder holds a copy of the scorecard)."""
    remove_abandoned_folders()
    folder = tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_abandoned_folders() -> None:
    """Our folders in TMPDIR whose process is gone."""
    for folder in Path(tempfile.gettempdir()).glob(TEMP_PREFIX + "*"):
        pid = folder.name[len(TEMP_PREFIX):].split("-", 1)[0]
        try:
            ours = not folder.is_symlink() and folder.is_dir() and folder.stat().st_uid == os.getuid()
        except OSError:
            continue
        if ours and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: running
        return True
    return True


# ---- notices --------------------------------------------------------------------------------

def default_template() -> bytes:
    return resources.files("assess_xl.templates").joinpath("notice-template.docx").read_bytes()


def notices(book: Rulebook, scores: Scores, explanations: pd.DataFrame, signed: Signature,
            template: bytes | None = None) -> dict[str, bytes]:
    """District → its notice (.docx bytes). The template is parsed and its styles are looked up once; each
    notice then replaces the body and is saved (the same bytes as from a fresh copy of the template)."""
    writer = NoticeWriter(template or default_template())
    return {district: writer.write(book, scores, explanations, district, signed) for district in scores.districts}


NOTICE_STYLES = ("通报标题", "通报正文", "通报主送", "通报小标题", "通报附表标题", "通报落款")


class NoticeWriter:
    """One parsed template whose body is rewritten for each notice; everything else (styles, page set-up,
    headers, footers, properties) is the template's and never changes. A paragraph or table python-docx
    made once is copied for the next notice with its text replaced (python-docx builds each element by
    searching its parent's children for where it goes: most of a notice's time)."""

    def __init__(self, template: bytes):
        from docx import Document  # only notices need python-docx
        from docx.enum.style import WD_STYLE_TYPE
        self.document = Document(io.BytesIO(template))
        styles = {s.name: s for s in self.document.styles}
        # Each paragraph style's id as python-docx itself writes it (None for the default style); python-docx
        # would otherwise search the styles part for the default style on every paragraph.
        self.style_ids = {name: self.document.part.get_style_id(styles.get(name) or self.document.styles["Normal"],
                                                                  WD_STYLE_TYPE.PARAGRAPH) for name in NOTICE_STYLES}
        self.made: dict[tuple[Any, ...], Any] = {}  # (what, its fixed parts) → an element python-docx made

    def add(self, text: str, style: str) -> None:
        """A paragraph in the template's style of that name, or in Normal when a restyled template dropped it."""
        key = ("paragraph", style, bool(text))
        if key in self.made and _plain(text):
            self._append(self.made[key], [text] if text else [])
            return
        paragraph = self.document.add_paragraph(text)
        paragraph._p.style = self.style_ids[style]
        if _plain(text):
            self.made[key] = deepcopy(paragraph._p)

    def table(self, rows: list[tuple[str, str | None, str]]) -> None:
        """A table of three columns in the style Table Grid (no second cell where it is None)."""
        key = ("table", tuple(row[:2] for row in rows))
        if key in self.made and all(_plain(row[2]) for row in rows):
            self._append(self.made[key], [text for row in rows for text in (row[0], row[1], row[2]) if text is not None])
            return
        table = self.document.add_table(rows=1, cols=3)
        table.style = "Table Grid"
        for n, (label, points, score) in enumerate(rows):
            cells = table.rows[0].cells if n == 0 else table.add_row().cells
            cells[0].text = label
            if points is not None:
                cells[1].text = points
            cells[2].text = score
        if all(_plain(text) for row in rows for text in row if text is not None):
            self.made[key] = deepcopy(table._tbl)

    def _append(self, made, texts: list[str]) -> None:
        """A copy of `made` with the texts of its runs replaced in order, placed where python-docx adds an
        element: last in the body, before its section properties."""
        from docx.oxml.ns import qn
        element = deepcopy(made)
        found = list(element.iter(qn("w:t")))
        assert len(found) == len(texts)
        for t, text in zip(found, texts):
            t.text = text
        body = self.document.element.body
        section = body.find(qn("w:sectPr"))
        if section is not None:
            section.addprevious(element)
        else:
            body.append(element)

    def write(self, book: Rulebook, scores: Scores, explanations: pd.DataFrame, district: str,
              signed: Signature) -> bytes:
        """标题, 主送, 正文 (result, points lost, requests), 附表 (category scores), 落款."""
        document, add = self.document, self.add
        _clear_body(document)
        add(f"关于{book.year}年度{district}环保目标考核结果的通报", "通报标题")
        add("", "通报正文")
        add(f"{district}环保局：", "通报主送")
        add(f"根据《{book.document_title('考核评分细则')}》，经各责任部门填报、{signed.issuer}审核汇总，"
            f"现将你局{book.year}年度环保目标考核结果通报如下。", "通报正文")
        lost = points_lost(book, scores, explanations, district)
        out_of_reach = [text for _, text in points_out_of_reach(book)]
        sections = [("考核结果", [result_sentence(book, scores, district)]),
                    ("扣分情况", lost or [NO_LOSS if not out_of_reach else NO_LOSS_OF_REACH]),
                    *([("评分说明", out_of_reach)] if out_of_reach else []),
                    ("有关要求", [requests(signed, bool(lost))])]
        for number, (heading, lines) in zip(CHINESE_NUMBERS, sections):
            add(f"{number}、{heading}", "通报小标题")
            for line in lines:
                add(line, "通报正文")
        add(f"附表：{district}{book.year}年度各类别得分", "通报附表标题")
        self.table(category_rows(book, scores, district))
        add("", "通报正文")
        add(signed.issuer, "通报落款")
        add(signed.date, "通报落款")
        buffer = io.BytesIO()
        document.save(buffer)
        return buffer.getvalue()


def requests(signed: Signature, lost: bool) -> str:
    return (("请对照扣分原因认真整改。" if lost else "") + "对考核结果有异议的，请自收到本通报之日起5个工作日内"
            f"向{signed.issuer}书面提出复核申请，并附相关证明材料。")


def result_sentence(book: Rulebook, scores: Scores, district: str) -> str:
    totals = scores.totals.loc[district]
    sentence = (f"你局基本分{fmt_number(totals['基本分'])}分，加分{fmt_number(totals['加分'])}分，"
                f"总分{fmt_number(totals['总分'])}分，在{len(scores.districts)}个区中排名第{int(totals['排名'])}位。")
    if totals["缺报项数"]:
        sentence += missing_sentence(book, scores, district)
    return sentence


def missing_sentence(book: Rulebook, scores: Scores, district: str) -> str:
    """Which targets are 缺报 and which departments were to report them: the data did not come from the
    district, so the notice says whose report is missing rather than leaving it as the district's loss."""
    missing = [t for t in book.targets if scores.status.loc[district, t.number] == MISSING]
    departments = dict.fromkeys(book.indicators[code].department for t in missing for code in t.indicators
                                if not book.indicators[code].blank_is_zero)
    return (f"其中目标{'、'.join(str(t.number) for t in missing)}缺报（负责填报的{'、'.join(departments)}"
            "未报送你局的有效数据），按0分计。")


def points_lost(book: Rulebook, scores: Scores, explanations: pd.DataFrame, district: str) -> list[str]:
    """One line per target where the district earned less than the rules let anyone earn (the
    reachable maximum, not 分值: a gap in the rulebook is nobody's loss), with the reason in words."""
    lines: list[str] = []
    earned, status, reasons = (frame.loc[district].to_dict() for frame in (scores.targets, scores.status, explanations))
    for target in book.targets:
        score = float(earned[target.number])
        missing = status[target.number] == MISSING
        most = book.reachable_max(target)
        if target.max is None or (score >= most - 1e-9 and not missing):
            continue
        reach = f"，最多可得{fmt_number(most)}分" if most < target.max - 1e-9 else ""
        reason = str(reasons[target.number]).rstrip("。")
        lines.append(f"{len(lines) + 1}. 目标{target.number}“{target.text}”（分值{fmt_number(target.max)}分{reach}，"
                     f"得{fmt_number(score)}分）：{reason}。")
    return lines


def category_rows(book: Rulebook, scores: Scores, district: str) -> list[tuple[str, str | None, str]]:
    """The notice's 附表: (类别, 分值, 得分) of each category, then 基本分, 加分 and 总分 (no 分值)."""
    own = scores.categories.loc[district]
    rows: list[tuple[str, str | None, str]] = [("类别", "分值", "得分")]
    rows += [(f"{category.number} {category.name}", "加分" if category.bonus else fmt_number(category.points or 0),
              fmt_number(float(own[category.number]))) for category in book.categories]
    totals = scores.totals.loc[district]
    rows += [(label, None, fmt_number(float(totals[label]))) for label in ("基本分", "加分", "总分")]
    return rows


_SPECIAL = re.compile(r"[\t\r\n]")


def _plain(text: str) -> bool:
    """Text python-docx writes as one <w:t> without xml:space (no tab, no line break, no space at an end)."""
    return not _SPECIAL.search(text) and text == text.strip()


def _clear_body(document) -> None:
    """The template's sample text goes; its styles, page setup, headers and footers stay."""
    body = document.element.body
    for child in list(body):
        if not child.tag.endswith("}sectPr"):
            body.remove(child)
