"""The coordinator's own changes after an appeal (复核、更正), recorded: a workbook with one row per
changed value (区, 编号, 新值, 理由, 经办人, 日期) and one per excluded file (a version sent by mistake).
Each value is validated exactly as a typed one is, applied after merging and before scoring, and
shown in the explanation, in 调整记录 and in 来源. Takes and returns data."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
from xlsxwriter.utility import xl_rowcol_to_cell

from assess_xl import problems as P
from assess_xl.read.cells import interpret, is_blank, raw_text
from assess_xl.xlsx.layout import name_key
from assess_xl.xlsx.style import MemoryWorkbook, print_setup, styles, write_result_metadata
from assess_xl.problems import Problem
from assess_xl.rules.model import Rulebook
from assess_xl.xlsx.parse import SheetData
from assess_xl.problems import Code

CHANGES_SHEET, EXCLUDED_SHEET, LISTS_SHEET = "调整", "排除文件", "选项"
CHANGE_HEADERS = ("区", "编号", "新值", "理由", "经办人", "日期")
EXCLUDED_HEADERS = ("文件名或SHA-256", "理由", "经办人", "日期")
COORDINATOR_ITEMS = "综合处复核（调整表）"  # where problems of the coordinator's own rows are counted
PROBLEM_KINDS = frozenset({Code.ADJUSTMENTS_NO_SHEET, Code.ADJUSTMENT_DISTRICT, Code.ADJUSTMENT_CODE, Code.ADJUSTMENT_NO_REASON,
                           Code.ADJUSTMENT_VALUE})


@dataclass(frozen=True)
class Adjustment:
    district: str
    code: str
    value: float
    typed: str
    reason: str
    by: str
    on: str
    row: int  # 1-based row in the 调整 sheet


def template(book: Rulebook, districts: list[str] | None = None, changes_rows: list[list[str]] | None = None,
             excluded_rows: list[list[str]] | None = None) -> bytes:
    """The adjustments workbook, with dropdowns for districts (when known) and codes; blank, or holding
    the rows given (as text, in the order of CHANGE_HEADERS and EXCLUDED_HEADERS)."""
    workbook = MemoryWorkbook()
    house = styles(workbook)
    header, cell, day = house["list_header"], house["list_input"], house["list_input_date"]
    changes = workbook.add_worksheet(CHANGES_SHEET)
    excluded = workbook.add_worksheet(EXCLUDED_SHEET)
    lists = workbook.add_worksheet(LISTS_SHEET)
    codes = list(book.indicators)
    for r, code in enumerate(codes):
        lists.write_string(r, 0, code)
        lists.write_string(r, 1, f"{code} {book.indicators[code].label}")
    for r, district in enumerate(districts or []):
        lists.write_string(r, 2, district)
    lists.hide()
    for col, (title, width) in enumerate(zip(CHANGE_HEADERS, (14, 9, 12, 50, 10, 12))):
        changes.write_string(0, col, title, header)
        changes.set_column(col, col, width, day if title == "日期" else cell)
    last = 500
    changes.data_validation(1, 1, last, 1, {"validate": "list", "source": f"='{LISTS_SHEET}'!$A$1:$A${len(codes)}",
                                            "input_title": "编号", "input_message": "填写评分细则中的指标编号，如6-1"})
    if districts:
        changes.data_validation(1, 0, last, 0, {"validate": "list",
                                                "source": f"='{LISTS_SHEET}'!$C$1:$C${len(districts)}"})
    changes.data_validation(1, 3, last, 3, {"validate": "length", "criteria": ">", "value": 0,
                                            "input_title": "理由", "input_message": "必须写明调整理由（如复核意见、文号）"})
    changes.data_validation(1, 5, last, 5, {"validate": "date", "criteria": ">", "value": date(2000, 1, 1)})
    for col, (title, width) in enumerate(zip(EXCLUDED_HEADERS, (50, 50, 10, 12))):
        excluded.write_string(0, col, title, header)
        excluded.set_column(col, col, width, day if title == "日期" else cell)
    for ws, rows in ((changes, changes_rows), (excluded, excluded_rows)):
        for r, row in enumerate(rows or [], start=1):
            for col, value in enumerate(row):
                ws.write_string(r, col, value)
    for ws in (changes, excluded):
        ws.freeze_panes(1, 0)
        print_setup(ws, (0, 0))
    write_result_metadata(workbook, {"kind": "adjustments", "fingerprint": book.fingerprint})
    return workbook.content()


def read_changes(sheets: dict[str, SheetData], book: Rulebook, districts: list[str],
                 file_name: str) -> tuple[list[Adjustment], list[Problem]]:
    """The rows of the 调整 sheet, each checked as a typed value is; bad rows become problems."""
    changes: list[Adjustment] = []
    problems: list[Problem] = []
    sheet = sheets.get(CHANGES_SHEET)
    if sheet is None:
        return changes, [P.make(Code.ADJUSTMENTS_NO_SHEET, file=file_name, sheet=CHANGES_SHEET)]
    index = {name_key(d): d for d in districts}
    for number, row in enumerate(sheet.rows[1:], start=2):
        cells = (list(row) + [""] * 6)[:6]
        if all(is_blank(c) for c in cells):
            continue
        adjustment = _change(cells, number, book, index, file_name, problems)
        if adjustment is not None:
            changes.append(adjustment)
    return changes, problems


@dataclass(frozen=True)
class Exclusion:
    """One row of 排除文件: a name the file is shown under in 来源 (or its SHA-256), why, and where."""
    typed: str
    reason: str
    unmatched: Problem  # said when no file is shown under that name


def read_exclusions(sheets: dict[str, SheetData], file_name: str) -> tuple[list[Exclusion], list[Problem]]:
    """The rows of the 排除文件 sheet; a row without a reason is refused."""
    excluded: list[Exclusion] = []
    problems: list[Problem] = []
    sheet = sheets.get(EXCLUDED_SHEET)
    for number, row in enumerate(sheet.rows[1:] if sheet is not None else [], start=2):
        cells = (list(row) + [""] * 2)[:2]
        if all(is_blank(c) for c in cells):
            continue
        if is_blank(cells[1]):
            problems.append(P.make(Code.ADJUSTMENT_NO_REASON, file=file_name, sheet=EXCLUDED_SHEET, cell=f"B{number}",
                                   row=number))
        else:
            typed = raw_text(cells[0]).strip()
            excluded.append(Exclusion(typed, str(cells[1]).strip(), P.make(
                Code.EXCLUSION_UNMATCHED, file=file_name, sheet=EXCLUDED_SHEET, cell=f"A{number}", row=number,
                raw=typed)))
    return excluded, problems


def _change(cells: list[Any], number: int, book: Rulebook, index: dict[str, str], file_name: str,
            problems: list[Problem]) -> Adjustment | None:
    district_cell, code_cell, value_cell, reason, by, on = cells
    where: dict[str, Any] = {"file": file_name, "sheet": CHANGES_SHEET, "row": number}
    district = index.get(name_key(district_cell))
    code = str(code_cell).strip().split(" ")[0] if not is_blank(code_cell) else ""
    if district is None:
        problems.append(P.make(Code.ADJUSTMENT_DISTRICT, cell=f"A{number}", raw=raw_text(district_cell), **where))
        return None
    if code not in book.indicators:
        problems.append(P.make(Code.ADJUSTMENT_CODE, cell=f"B{number}", raw=raw_text(code_cell), district=district,
                               **where))
        return None
    if is_blank(reason):
        problems.append(P.make(Code.ADJUSTMENT_NO_REASON, cell=f"D{number}", district=district, code=code, **where))
        return None
    reading = interpret(book.indicators[code], value_cell)
    if reading.blank or not reading.valid:
        kinds = [kind for kind, _ in reading.notes] or [Code.MISSING]
        problems.append(P.make(Code.ADJUSTMENT_VALUE, cell=f"C{number}", district=district, code=code,
                               raw=reading.raw, reason=P.text(kinds[0], raw=reading.raw,
                                                              expected=book.indicators[code].what_to_type(),
                                                              options="、".join(book.indicators[code].options)),
                               **where))
        return None
    when = on.date().isoformat() if isinstance(on, datetime) else ("" if is_blank(on) else raw_text(on))
    return Adjustment(district, code, reading.value, reading.raw, str(reason).strip(),
                      "" if is_blank(by) else str(by).strip(), when, number)


def apply(values: pd.DataFrame, winners: pd.DataFrame, changes: list[Adjustment], book: Rulebook,
          file_name: str) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Values and winners with every change applied (they win over every return), and the record
    of each: what it was, what it is, why, who and when."""
    values = values.copy()
    winners = winners.copy()
    records = []
    for change in changes:
        indicator = book.indicators[change.code]
        old = values.loc[change.district, change.code]
        records.append({"区": change.district, "编号": change.code, "指标": indicator.label,
                        "原值": "（空）" if math.isnan(old) else indicator.show(old),
                        "新值": indicator.show(change.value), "理由": change.reason, "经办人": change.by,
                        "日期": change.on, "行": change.row, "目标": indicator.target})
        values.loc[change.district, change.code] = change.value
        keep = ~((winners["district"] == change.district) & (winners["code"] == change.code))
        row: dict[str, object] = {column: "" for column in winners.columns}
        row.update({"district": change.district, "code": change.code, "value": change.value, "raw": change.typed,
                    "blank": False, "valid": True, "file": file_name, "sheet": CHANGES_SHEET,
                    "cell": xl_rowcol_to_cell(change.row - 1, 2), "order": int(winners["order"].max() + 1)
                    if len(winners) else 0})
        winners = pd.concat([winners[keep], pd.DataFrame([row])], ignore_index=True)
    return values, winners, records


def annotate(explanations: pd.DataFrame, records: list[dict[str, Any]]) -> pd.DataFrame:
    """经复核调整：原值 → 新值，理由 — added to the explanation of the target the value belongs to."""
    out = explanations.copy()
    for record in records:
        note = f"经复核调整：{record['指标']}由{record['原值']}改为{record['新值']}（{record['理由']}）"
        current = out.loc[record["区"], record["目标"]]
        out.loc[record["区"], record["目标"]] = f"{current}；{note}" if current else note
    return out
