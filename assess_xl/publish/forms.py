"""The fill-in workbook: one sheet per department, one input column per district, written with
xlsxwriter into memory. Knows nothing of reading forms back."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from xlsxwriter.utility import xl_rowcol_to_cell

from assess_xl.xlsx import printfit
from assess_xl.rules.components import Indicator
from assess_xl.xlsx.layout import (CONTEXT_HEADERS, CONTEXT_WIDTHS, FORM_VERSION, GUIDE_SHEET, HEADER_ROW, MAX_META_CELL,
                     META_SHEET, RETURN_SHEET, TOOL, district_name_problems, safe_file_name)
from assess_xl import problems as P
from assess_xl.problems import Code
from assess_xl.xlsx.style import FONT, MemoryWorkbook, print_setup, styles as house_styles
from assess_xl.rules.model import Rulebook


class FormError(P.AssessError):
    """Forms cannot be made: a district list that cannot be used, or xlsxwriter refused something
    we asked it to write (it only warns and returns a code)."""

    heading = Code.FORMS_UNUSABLE


def checked(code: int, what: str) -> None:
    if code not in (0, None):
        raise FormError(P.make(Code.FORM_WRITE_FAILED, what=what, status=code))


@dataclass(frozen=True)
class Prefill:
    """What a re-issued form already holds: accepted values, cells to fix (with a comment saying what
    was typed, what is wrong and what to type), cells still owed, and an optional first sheet."""
    values: dict = field(default_factory=dict)  # (code, district) → parsed value
    fix: dict[tuple[str, str], str] = field(default_factory=dict)  # (code, district) → comment
    owed: dict[tuple[str, str], str] = field(default_factory=dict)  # (code, district) → comment
    explanation: tuple = ()  # rows of the 退回说明 sheet (first row: the summary line)


NO_PREFILL = Prefill()


@dataclass(frozen=True)
class FormFile:
    name: str
    departments: tuple[str, ...]
    content: bytes


def file_name(book: Rulebook, department: str | None, kind: str = "") -> str:
    """The form's file name (`kind`: "-退回修改" for a return copy), safe whatever the rulebook says."""
    who = department or "全部部门"
    return safe_file_name(f"{book.year}年度目标考核填报表-{who}{kind}.xlsx")


def build_forms(book: Rulebook, districts: list[str], password: str | None = None,
                now: datetime | None = None, prefill: Prefill = NO_PREFILL) -> list[FormFile]:
    """The full workbook, then one copy per department, in the rulebook's department order."""
    problems = district_name_problems(districts)
    if problems:
        raise FormError(*problems)
    now = now or datetime.now().replace(microsecond=0)
    departments = [d for d in book.departments if book.department_indicators(d)]
    files = [FormFile(file_name(book, None), tuple(departments),
                      build_workbook(book, districts, departments, password, now, prefill))]
    for department in departments:
        files.append(FormFile(file_name(book, department), (department,),
                              build_workbook(book, districts, [department], password, now, prefill)))
    return files


def build_workbook(book: Rulebook, districts: list[str], departments: list[str],
                   password: str | None, now: datetime, prefill: Prefill = NO_PREFILL) -> bytes:
    workbook = MemoryWorkbook()
    styles = house_styles(workbook)
    workbook.set_properties({"title": f"{book.title}填报表", "author": TOOL, "company": TOOL,
                             "created": now, "comments": f"assess-xl form v{FORM_VERSION}"})
    if prefill.explanation:
        _write_return_note(workbook.add_worksheet(RETURN_SHEET), prefill.explanation, styles)
    _write_guide(workbook.add_worksheet(GUIDE_SHEET), book, districts, departments, styles)
    long_lists: dict[str, tuple[int, tuple[str, ...]]] = {}  # code → (metadata sheet column, options)
    for department in departments:
        _write_department(workbook.add_worksheet(department), book, department, districts, styles, password,
                          long_lists, prefill)
    _write_metadata(workbook.add_worksheet(META_SHEET), book, districts, departments, now, long_lists)
    return workbook.content()


def metadata(book: Rulebook, districts: list[str], departments: list[str], now: datetime) -> dict[str, str]:
    rows = {"tool": TOOL, "form_version": str(FORM_VERSION), "year": str(book.year), "title": book.title,
            "fingerprint": book.fingerprint, "generated_at": now.isoformat(),
            "districts": json.dumps(districts, ensure_ascii=False),
            "departments": json.dumps(departments, ensure_ascii=False)}
    for department in departments:
        codes = [i.code for i in book.department_indicators(department)]
        rows[f"codes:{department}"] = json.dumps(codes, ensure_ascii=False)
    return rows


def _write_department(ws, book: Rulebook, department: str, districts: list[str], styles, password, long_lists,
                      prefill: Prefill = NO_PREFILL):
    indicators = book.department_indicators(department)
    last_col = len(CONTEXT_HEADERS) + len(districts) - 1
    ws.merge_range(0, 0, 0, max(last_col, 6), f"{book.title}——{department}填报表", styles["title_centered"])
    ws.merge_range(1, 0, 1, max(last_col, 6),
                   "请在黄色单元格中按区填写；是/否和选项请从下拉列表选择，比率填百分数（如85%）。"
                   "不要修改编号列和区名，不要增删行列。空白表示缺报。", styles["hint"])
    ws.set_row(0, 28)
    ws.set_row(1, 30)
    for col, (header, width) in enumerate(zip(CONTEXT_HEADERS, CONTEXT_WIDTHS)):
        ws.write_string(HEADER_ROW, col, header, styles["header"])
        ws.set_column(col, col, width)
    for offset, district in enumerate(districts):
        col = len(CONTEXT_HEADERS) + offset
        checked(ws.write_string(HEADER_ROW, col, district, styles["header"]), f"区名“{district}”")
        ws.set_column(col, col, max(10, min(24, 2 * len(district) + 2)))
    ws.set_row(HEADER_ROW, 30)
    row = HEADER_ROW + 1
    for target_number, group in by_target(indicators):
        target = book.target(target_number)
        category = book.category(target.category)
        _write_group_context(ws, row, len(group), f"{category.number} {category.name}",
                             f"{target.number}. {target.text}", target.rule, styles)
        rule_lines = _lines(target.rule, CONTEXT_WIDTHS[3]) + _lines(target.text, CONTEXT_WIDTHS[2])
        for indicator in group:
            _write_indicator_row(ws, row, indicator, districts, styles, long_lists, prefill)
            lines = max(_lines(indicator.label, CONTEXT_WIDTHS[4]), _lines(indicator.what_to_type(), CONTEXT_WIDTHS[6]),
                        math.ceil(rule_lines / len(group) / 2 + 0.5))
            ws.set_row(row, max(20, 14 * lines))
            row += 1
    ws.freeze_panes(HEADER_ROW + 1, 1)
    print_setup(ws, (HEADER_ROW, HEADER_ROW))
    ws.protect(password or "", {"format_columns": True, "format_rows": True, "select_locked_cells": True,
                                "select_unlocked_cells": True})


def by_target(indicators: list[Indicator]):
    groups: dict[int, list[Indicator]] = {}
    for indicator in indicators:
        groups.setdefault(indicator.target, []).append(indicator)
    return groups.items()


def _lines(text: str, width: float) -> int:
    return max(1, math.ceil(len(text) * 2 / max(width - 1, 1)))


def _write_group_context(ws, row, height, category, target_text, rule, styles):
    for col, text in ((1, category), (2, target_text), (3, rule)):
        if height > 1:
            ws.merge_range(row, col, row + height - 1, col, text, styles["text"])
        else:
            ws.write_string(row, col, text, styles["text"])


def _write_indicator_row(ws, row, indicator: Indicator, districts, styles, long_lists, prefill: Prefill = NO_PREFILL):
    ws.write_string(row, 0, indicator.code, styles["code"])
    ws.write_string(row, 4, indicator.label, styles["text"])
    ws.write_string(row, 5, "" if indicator.type == "percent" else indicator.unit or "", styles["text"])
    ws.write_string(row, 6, indicator.what_to_type(), styles["text"])
    first, last = len(CONTEXT_HEADERS), len(CONTEXT_HEADERS) + len(districts) - 1
    style = {"percent": "input_percent", "bool": "input", "choice": "input"}.get(indicator.type, "input_number")
    for col, district in zip(range(first, last + 1), districts):
        key = (indicator.code, district)
        if key in prefill.fix:
            ws.write_blank(row, col, None, styles[style + "_fix"])
            ws.write_comment(row, col, prefill.fix[key], COMMENT_OPTIONS)
        elif key in prefill.owed:
            ws.write_blank(row, col, None, styles[style + "_owed"])
            ws.write_comment(row, col, prefill.owed[key], COMMENT_OPTIONS)
        elif key in prefill.values:
            _write_value(ws, row, col, indicator, prefill.values[key], styles[style])
        else:
            ws.write_blank(row, col, None, styles[style])
    if districts:
        column = None
        if indicator.type == "choice" and len(",".join(indicator.options)) > 255:
            column = long_lists.setdefault(indicator.code, (3 + len(long_lists), indicator.options))[0]
        checked(ws.data_validation(row, first, row, last, validation(indicator, column)), f"数据验证（{indicator.code}）")


COMMENT_OPTIONS = {"author": TOOL, "x_scale": 2.2, "y_scale": 1.6, "font_name": FONT}


def _write_value(ws, row, col, indicator: Indicator, value: float, style) -> None:
    """An accepted value written back as a person would have typed it (是/否, the option, a number)."""
    if indicator.type == "bool":
        ws.write_string(row, col, "是" if value >= 0.5 else "否", style)
    elif indicator.type == "choice":
        ws.write_string(row, col, indicator.options[int(value)], style)
    else:
        ws.write_number(row, col, int(value) if float(value).is_integer() else value, style)


RETURN_NOTE_WIDTHS = (14, 9, 24, 8, 16, 70)  # 区, 指标编号, 指标, 单元格, 原填写, 问题和应填写的内容


def _write_return_note(ws, rows: tuple, styles) -> None:
    """退回说明: the summary line across the table's width, then one row per cell to fix or still owed,
    each row as tall as its wrapped text."""
    for col, width in enumerate(RETURN_NOTE_WIDTHS):
        ws.set_column(col, col, width)
    _title(ws, rows[0][0], RETURN_NOTE_WIDTHS, styles)
    for r, values in enumerate(rows[1:], start=2):
        for c, value in enumerate(values):
            ws.write_string(r, c, str(value), styles["header" if r == 2 else "text"])
        ws.set_row(r, printfit.row_height([(str(v), w) for v, w in zip(values, RETURN_NOTE_WIDTHS)], least=20))
    ws.freeze_panes(3, 0)
    print_setup(ws, (2, 2))
    ws.activate()


def _title(ws, text: str, widths, styles) -> None:
    """A1's title merged across the used columns, as tall as it needs, so that it reads whole."""
    ws.merge_range(0, 0, 0, len(widths) - 1, text, styles["title_centered"])
    ws.set_row(0, printfit.row_height([(text, printfit.merged_width(widths))], size=14, bold=True, least=24))


def validation(indicator: Indicator, options_column: int | None = None) -> dict:
    """Excel data validation for one indicator's input cells, with a Chinese prompt and error."""
    common = {"input_title": indicator.code[:32], "input_message": ("请填写" + indicator.what_to_type())[:255],
              "error_title": "输入无效", "error_type": "stop",
              "error_message": ("请填写" + indicator.what_to_type())[:255]}
    if indicator.type == "bool":
        return {**common, "validate": "list", "source": ["是", "否"]}
    if indicator.type == "choice":
        if len(",".join(indicator.options)) <= 255:
            return {**common, "validate": "list", "source": list(indicator.options)}
        # Excel refuses literal lists over 255 characters: the options go in the metadata sheet.
        column = xl_rowcol_to_cell(0, options_column).split("1")[0] if options_column is not None else "D"
        return {**common, "validate": "list",
                "source": f"='{META_SHEET}'!${column}$1:${column}${len(indicator.options)}"}
    upper = _tidy(indicator.max if indicator.max is not None else 1e9)
    kind = "integer" if indicator.type == "count" else "decimal"
    return {**common, "validate": kind, "criteria": "between", "minimum": _tidy(indicator.min or 0), "maximum": upper}


def _tidy(number: float):
    return int(number) if float(number).is_integer() else number


GUIDE_WIDTHS = (16, 90)


def _write_guide(ws, book: Rulebook, districts, departments, styles):
    for col, width in enumerate(GUIDE_WIDTHS):
        ws.set_column(col, col, width)
    _title(ws, f"{book.title}——填报说明", GUIDE_WIDTHS, styles)
    lines = [
        ("年度", str(book.year)),
        ("评分细则", f"{book.title}（指纹 {book.fingerprint}）"),
        ("被考核区", "、".join(districts)),
        ("本文件包含", "、".join(departments)),
        ("怎样填写", "每个部门在本部门的工作表中，按区在黄色单元格填写各项指标；编号和区名是读取数据的依据，请勿修改、删除或移动到别处。"),
        ("是/否", "从下拉列表选择“是”或“否”（Excel和WPS只接受这两个值，填1/0、√/×等会被拒绝）。"),
        ("比率", "填写百分数，例如85%（单元格已设为百分比格式，直接输入85%即可）。"),
        ("数量、金额", "填写数字，不要带单位；没有发生的填0，不要留空。"),
        ("得分、扣分", "按考核细则评定后填写，可含小数，须在提示的范围内。"),
        ("空白", "空白表示缺报：缺报的目标计0分。加分项目（第38项）没有可不填。"),
        ("交回", "填好后保存（可另存为新文件名），通过电子邮件交回综合处。可以只交回本部门的工作表。"),
    ]
    for row, (key, text) in enumerate(lines, start=2):
        ws.write_string(row, 0, key, styles["label"])
        ws.write_string(row, 1, text, styles["plain"])
    ws.set_landscape()
    ws.set_paper(9)
    ws.fit_to_pages(1, 0)


def _write_metadata(ws, book, districts, departments, now, long_lists):
    for row, (key, value) in enumerate(metadata(book, districts, departments, now).items()):
        if len(value) > MAX_META_CELL:
            raise FormError(P.make(Code.FORM_METADATA_TOO_LONG, key=key, length=len(value), limit=MAX_META_CELL))
        checked(ws.write_string(row, 0, key), "填报表信息")
        checked(ws.write_string(row, 1, value), "填报表信息")
    for column, options in long_lists.values():
        for row, option in enumerate(options):
            ws.write_string(row, column, option)
    ws.hide()


def department_copies(book: Rulebook, folder: Path) -> dict[str, tuple[str, bytes]]:
    """department → (file name, content) of its own form in a folder `forms` wrote, for those present."""
    copies = {}
    for department in book.departments:
        path = folder / file_name(book, department)
        if path.is_file():
            copies[department] = (path.name, path.read_bytes())
    return copies
