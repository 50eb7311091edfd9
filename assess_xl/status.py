"""Who has returned what: the department × district submission matrix. Knows nothing of scoring."""
from __future__ import annotations

import pandas as pd

from .merge import ReadResult
from .rulebook import Rulebook

NOT_RETURNED, COMPLETE = "未交", "已填齐"


def matrix(book: Rulebook, read: ReadResult) -> pd.DataFrame:
    """Rows: departments; columns: exactly the districts; cells: '已填齐', '已填 n/m' or '未交'."""
    departments = [d for d in book.departments if book.department_indicators(d)]
    owner = {code: indicator.department for code, indicator in book.indicators.items()}
    filled = read.winners.assign(department=read.winners["code"].map(owner))
    counts = filled.groupby(["department", "district"]).size().to_dict() if len(filled) else {}
    rows = []
    for department in departments:
        total = len(book.department_indicators(department))
        rows.append([_cell(int(counts.get((department, district), 0)), total) for district in read.districts])
    table = pd.DataFrame(rows, index=pd.Index(departments, name="部门"), columns=pd.Index(read.districts, dtype=object))
    return table


def _cell(count: int, total: int) -> str:
    if count == 0:
        return NOT_RETURNED
    return COMPLETE if count == total else f"已填 {count}/{total}"


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
