"""Who has returned what: the department × district submission matrix. Knows nothing of scoring."""
from __future__ import annotations

from collections import Counter

import pandas as pd

from assess_xl.read.merge import ReadResult
from assess_xl.rules.model import Rulebook

NOT_RETURNED, COMPLETE = "未交", "已填齐"


def owed(book: Rulebook, read: ReadResult) -> dict[str, list[tuple[str, str]]]:
    """The one definition of what is owed, used by status, 催报 and 退回修改: department → the (code, district)
    cells of its required indicators that hold no accepted value (blank, or typed wrong). Optional cells (an
    indicator whose blank counts 0, such as the bonus items of target 38) are never owed."""
    required = {department: [i.code for i in book.department_indicators(department) if not i.blank_is_zero]
                for department in book.departments}
    codes = list(dict.fromkeys(code for listed in required.values() for code in listed))
    # one lookup for all cells: a district or code the values lack is blank, as is NaN
    blank = read.values.reindex(index=read.districts, columns=codes).isna().to_numpy().T
    column = {code: n for n, code in enumerate(codes)}
    return {department: [(code, district) for code in listed
                         for district, empty in zip(read.districts, blank[column[code]].tolist()) if empty]
            for department, listed in required.items()}


def matrix(book: Rulebook, read: ReadResult) -> pd.DataFrame:
    """Rows: departments; columns: exactly the districts; cells: '已填齐' (nothing owed), '已填 n/m' (n of the
    m required cells accepted) or '未交' (nothing of the department's in any file)."""
    departments = [d for d in book.departments if book.department_indicators(d)]
    owner = {code: indicator.department for code, indicator in book.indicators.items()}
    filled = read.winners.assign(department=read.winners["code"].map(owner))
    counts = filled.groupby(["department", "district"]).size().to_dict() if len(filled) else {}
    owing_cells = owed(book, read)
    rows = []
    for department in departments:
        required = sum(not i.blank_is_zero for i in book.department_indicators(department))
        lacking = Counter(district for _, district in owing_cells[department])
        rows.append([_cell(int(counts.get((department, district), 0)), required - lacking[district], required)
                     for district in read.districts])
    table = pd.DataFrame(rows, index=pd.Index(departments, name="部门"), columns=pd.Index(read.districts, dtype=object))
    return table


def _cell(typed: int, accepted: int, required: int) -> str:
    if accepted == required:
        return COMPLETE
    return NOT_RETURNED if typed == 0 else f"已填 {accepted}/{required}"


def files(book: Rulebook, read: ReadResult) -> dict[str, str]:
    """Department → the files that supplied it, with their submission times (kept apart from the districts)."""
    out = {}
    for department in book.departments:
        suppliers = []
        for report in read.files:
            if department in report.supplied:
                try:
                    stamp = report.info.submitted_at.astimezone().strftime("%m-%d %H:%M")
                except (OverflowError, ValueError, OSError):
                    stamp = "时间不详"
                suppliers.append(f"{report.info.name}（{stamp}）")
        out[department] = "；".join(suppliers)
    return out


def owing(table: pd.DataFrame) -> dict[str, list[str]]:
    """Department → districts it still owes (not returned or incomplete)."""
    return {department: [d for d, cell in zip(table.columns, row) if cell != COMPLETE]
            for department, row in zip(table.index, table.values.tolist()) if any(cell != COMPLETE for cell in row)}
