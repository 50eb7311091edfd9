"""Who has returned what: the department × district submission matrix. Knows nothing of scoring."""
from __future__ import annotations

import pandas as pd

from .readback import ReadResult
from .rulebook import Rulebook

NOT_RETURNED = "未交"


def matrix(book: Rulebook, read: ReadResult) -> pd.DataFrame:
    """Rows: departments; columns: districts; cells: '已填 n/m' or '未交', plus 提供文件 per department."""
    departments = [d for d in book.departments if book.department_indicators(d)]
    filled = read.winners.assign(department=read.winners["code"].map(lambda c: book.indicators[c].department))
    counts = filled.groupby(["department", "district"]).size() if len(filled) else pd.Series(dtype=int)
    rows = {}
    for department in departments:
        total = len(book.department_indicators(department))
        row = {}
        for district in read.districts:
            n = int(counts.get((department, district), 0))
            row[district] = NOT_RETURNED if n == 0 else ("已填齐" if n == total else f"已填 {n}/{total}")
        rows[department] = row
    table = pd.DataFrame.from_dict(rows, orient="index", columns=read.districts)
    table.index.name = "部门"
    table["提供文件"] = [_files(read, d) for d in departments]
    return table


def _files(read: ReadResult, department: str) -> str:
    suppliers = []
    for report in read.files:
        if department in report.supplied:
            stamp = report.info.submitted_at.astimezone().strftime("%m-%d %H:%M")
            suppliers.append(f"{report.info.name}（{stamp}）")
    return "；".join(suppliers)


def owing(table: pd.DataFrame) -> dict[str, list[str]]:
    """Department → districts it still owes (not returned or incomplete)."""
    districts = [c for c in table.columns if c != "提供文件"]
    return {dept: [d for d in districts if row[d] != "已填齐"] for dept, row in table.iterrows()
            if any(row[d] != "已填齐" for d in districts)}
