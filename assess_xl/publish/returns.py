"""The correction loop (退回修改): for each department with cells to fix or still owed, its own form
again, prefilled with every value already accepted, the cells to fix and the cells owed marked with a
fill and a comment, and a first sheet 退回说明 listing them. Also the prefill of re-issued forms.
Takes a ReadResult, returns Prefill plans and FormFiles; writes nothing."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from xlsxwriter.utility import xl_rowcol_to_cell

from assess_xl.publish import forms

from assess_xl.score import replay

from assess_xl.publish import status
from assess_xl.publish.forms import FormFile, Prefill
from assess_xl.xlsx.layout import CONTEXT_HEADERS, HEADER_ROW
from assess_xl.read.merge import ReadResult
from assess_xl.problems import ERROR
from assess_xl.rules.model import Rulebook
from assess_xl.problems import Code

NOT_CELL_PROBLEMS = {Code.MISSING, Code.DEPARTMENT_MISSING}  # owed, not typed wrong
EXPLANATION_HEADER = ("区", "指标编号", "指标", "单元格", "原填写", "问题和应填写的内容")


@dataclass(frozen=True)
class DepartmentState:
    """Where a department stands: 未交, 有错待改 (cells to fix or still owed) or 齐全."""
    state: str
    to_fix: int
    owed: int


def accepted_values(read: ReadResult) -> dict[tuple[str, str], float]:
    """(code, district) → the accepted value, for every value read."""
    out = {}
    for district, row in read.values.iterrows():
        for code, value in row.items():
            if not math.isnan(value):
                out[(code, district)] = float(value)
    return out


def plan(book: Rulebook, read: ReadResult) -> dict[str, Prefill]:
    """Department → what its return copy holds; departments with nothing to fix are absent."""
    values = accepted_values(read)
    wrong: dict[str, dict] = {}  # department → (code, district) → (what was typed, what is wrong and what to type)
    for problem in read.problems:
        if problem.level != ERROR or problem.kind in NOT_CELL_PROBLEMS or problem.code not in book.indicators:
            continue
        if problem.district not in read.districts:
            continue
        department = book.indicators[problem.code].department
        wrong.setdefault(department, {})[(problem.code, problem.district)] = (problem.raw, problem.message)
    plans = {}
    owing = status.owed(book, read)
    for department in book.departments:
        to_fix = wrong.get(department, {})
        owed = {(code, d): f"尚未填写。请填写{book.indicators[code].what_to_type()}。"
                for code, d in owing[department] if (code, d) not in to_fix}
        if to_fix or owed:
            comments = {key: (f"原填写：“{typed}”\n" if typed else "") + f"问题：{message}"
                        for key, (typed, message) in to_fix.items()}
            rows = _explanation(book, department, read.districts, to_fix, owed)
            plans[department] = Prefill(values, comments, owed, rows)
    return plans


def _explanation(book: Rulebook, department: str, districts: list[str], to_fix: dict, owed: dict) -> tuple:
    """退回说明: the summary line, the header, then every cell to fix and every cell owed, in form order."""
    where = _cells(book, department, districts)
    summary = (f"{department}：需改正{len(to_fix)}处（红色单元格），尚未填写{len(owed)}处（橙色单元格）。"
               f"请在“{department}”工作表中修改或补填后保存，照常交回；其余已填写的内容不必改动。")
    cells = [(key, typed, said) for key, (typed, said) in to_fix.items()]
    cells += [(key, "", said) for key, said in owed.items()]
    position = {key: n for n, key in enumerate(where)}  # the form's order: row by row, district by district
    ordered = sorted(cells, key=lambda cell: (cell[0] not in to_fix, position[cell[0]]))
    rows = [(district, code, book.indicators[code].label, where[(code, district)], typed, said)
            for (code, district), typed, said in ordered]
    return ((summary,), EXPLANATION_HEADER, *rows)


def _cells(book: Rulebook, department: str, districts: list[str]) -> dict[tuple[str, str], str]:
    """(code, district) → its cell in the department's form, as forms lays it out."""
    ordered = [i for _, group in forms.by_target(book.department_indicators(department)) for i in group]
    return {(indicator.code, district): xl_rowcol_to_cell(HEADER_ROW + 1 + r, len(CONTEXT_HEADERS) + c)
            for r, indicator in enumerate(ordered) for c, district in enumerate(districts)}


def return_copies(book: Rulebook, read: ReadResult, now: datetime | None = None,
                  departments: list[str] | None = None) -> list[FormFile]:
    """One workbook per department that must fix or complete something (of `departments`, when given)."""
    now = now or datetime.now().replace(microsecond=0)
    return [FormFile(forms.file_name(book, department, "-退回修改"), (department,),
                     forms.build_workbook(book, read.districts, [department], None, now, prefill))
            for department, prefill in plan(book, read).items() if departments is None or department in departments]


@dataclass(frozen=True)
class Carried:
    """What the returns give a re-issued form: values by (code, district), and the codes that cannot be
    prefilled with why (next year's rules renamed, added or retyped them)."""
    values: dict[tuple[str, str], float]
    not_carried: dict[str, str]


def carried_over(old: Rulebook, new: Rulebook, read: ReadResult, districts: list[str]) -> Carried:
    """The accepted values of returns made under `old` that mean the same under `new` (code and type
    unchanged), for `districts`; `old` is `new` when the forms are re-issued within the year."""
    changed = replay.changed_indicators(old, new)
    accepted = accepted_values(read)
    held = {code for code, _ in accepted}
    values = {(code, district): value for (code, district), value in accepted.items()
              if code not in changed and district in districts}
    return Carried(values, {code: why for code, why in changed.items() if code in held or code in new.indicators})


def prefilled_forms(book: Rulebook, carried: Carried, districts: list[str], now: datetime | None = None) -> list[FormFile]:
    """The forms again (full workbook and one per department) holding every value carried over."""
    return forms.build_forms(book, districts, now=now, prefill=Prefill(carried.values))


def owing_lines(book: Rulebook, read: ReadResult) -> dict[str, list[str]]:
    """Department → what it must fix (each cell with what is wrong, as 退回说明 says it) and what it
    still owes, district by district (for 催报)."""
    out: dict[str, list[str]] = {}
    for department, prefill in plan(book, read).items():  # the departments that are not 齐全
        wrong: dict[str, list[str]] = {}
        owed: dict[str, list[str]] = {}
        for district, code, label, _cell, _typed, said in prefill.explanation[2:]:
            if (code, district) in prefill.fix:
                wrong.setdefault(district, []).append(f"  需改正 {code} {label}：{said}")
            else:
                owed.setdefault(district, []).append(f"{code} {label}")
        out[department] = [line for district in read.districts if district in wrong or district in owed
                           for line in (f"{district}：", *wrong.get(district, ()),
                                        *([f"  未填写 {'、'.join(owed[district])}"] if district in owed else ()))]
    return out


def department_states(book: Rulebook, read: ReadResult) -> dict[str, DepartmentState]:
    plans = plan(book, read)
    supplied = {d for report in read.files for d in report.supplied}
    states = {}
    for department in book.departments:
        if not book.department_indicators(department):
            continue
        prefill = plans.get(department)
        if prefill is None:  # nothing owed (optional cells left blank are not owed) and nothing to fix
            states[department] = DepartmentState("齐全", 0, 0)
        elif department not in supplied:
            states[department] = DepartmentState("未交", 0, len(prefill.owed))
        else:
            states[department] = DepartmentState("有错待改", len(prefill.fix), len(prefill.owed))
    return states


def received_from(read: ReadResult) -> set[str]:
    """The departments that returned something (a sheet with input) in any file read."""
    return {department for report in read.files for department in report.supplied}
