"""What the terminal shows (rich): file lists, problem summaries, the ranking, the status board, fetch results.
The library modules a printer needs are imported by that printer: every command prints its errors through
this module, and only collect needs pandas."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assess_xl.cli.plain_rows import PlainRowsTable
from assess_xl.problems import ERROR, INFO, WARNING
from assess_xl.rules.components import fmt_number
from assess_xl.problems import Code

if TYPE_CHECKING:
    import pandas as pd

    from assess_xl import pipeline

console = Console(highlight=False, soft_wrap=True)


errors_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_nothing_filled(read) -> None:
    print_files(read)
    console.print(f"[yellow]收到的{len([f for f in read.files if f.status == '已读取'])}个填报表都没有填写任何数据"
                  "（都是空白表）。[/]没有生成考核结果。请确认交回的是填写后的文件。")


def print_files(read) -> None:
    verdicts: dict[str, int] = {}
    for file in read.files:
        verdicts[file.status] = verdicts.get(file.status, 0) + 1
    parts = "，".join(f"{status} {count}" for status, count in verdicts.items())
    console.print(f"文件 {len(read.files)} 个（{escape(parts) or '无'}）；跳过 {len(read.skipped)} 个。")
    for file in read.files:
        if file.status not in ("已读取", "重复"):
            console.print(f"  [yellow]{escape(file.status)}[/] {escape(file.info.name)}：{escape(file.reason)}")
    for name, reason, _ in read.skipped:
        console.print(f"  [dim]跳过[/] {escape(name)}：{escape(reason)}")


def department_of(problem, book) -> str:
    """Whose item a problem is: the department owning the code, or the coordinator for the 调整表's own rows."""
    from assess_xl.score import adjustments as adjustments_module
    if problem.kind in adjustments_module.PROBLEM_KINDS:
        return adjustments_module.COORDINATOR_ITEMS
    department: str = book.department_of(problem)
    return department


def print_problem_summary(read, book) -> None:
    """Problems grouped by department: not received, blank cells (缺报), cells to fix, warnings."""
    from assess_xl.score import adjustments as adjustments_module
    counts = {level: sum(p.level == level for p in read.problems) for level in (ERROR, WARNING, INFO)}
    console.print(f"问题 {len(read.problems)} 条 = 错误 {counts[ERROR]} + 警告 {counts[WARNING]} + 提示 {counts[INFO]}。")
    table = Table("部门", "未收到（区）", "缺报单元格", "需改正单元格", "警告", title="各部门问题")
    rows: dict[str, list[int]] = {d: [0, 0, 0, 0] for d in [*book.departments, adjustments_module.COORDINATOR_ITEMS]}
    for problem in read.problems:
        row = rows.get(department_of(problem, book))
        if row is None:
            continue
        if problem.kind == Code.DEPARTMENT_MISSING:
            row[0] += len(problem.district.split("、"))
        elif problem.kind == Code.MISSING:
            row[1] += 1
        elif problem.level == ERROR:
            row[2] += 1
        elif problem.level == WARNING:
            row[3] += 1
    for department, row in rows.items():
        if any(row):
            table.add_row(escape(department), *[str(n) if n else "" for n in row])
    if table.row_count:
        console.print(table)
    to_fix = [p for p in read.problems if p.level == ERROR and p.kind not in (Code.MISSING, Code.DEPARTMENT_MISSING)]
    for problem in to_fix[:10]:
        where = " ".join(x for x in (problem.file, problem.sheet, problem.cell, problem.district, problem.code) if x)
        console.print(f"[red]需改正[/] {escape(where)}：{escape(problem.message)}")
    if len(to_fix) > 10:
        console.print(f"……另有{len(to_fix) - 10}条需改正的错误。")
    console.print("全部问题见报告的“问题清单”工作表。" if read.problems else "没有发现问题。")


def print_summary(result: pipeline.CollectResult, book, out=None) -> None:
    """Files, ranking, robustness and problems; and where the scorecard was written (`out`), if it was."""
    read, scores = result.read, result.scores
    assert scores is not None, "print_summary is called for written results only"
    print_files(read)
    console.print(f"区 {len(read.districts)} 个。")
    console.print(ranking_table(scores.totals))
    if result.robustness is not None:
        print_robustness(result.robustness, book)
    print_problem_summary(read, book)
    if out is not None:
        console.print(f"考核结果已写入 {escape(str(out))}")


def ranking_table(totals: pd.DataFrame) -> PlainRowsTable:
    """考核排名: one row per district in rank order (the order of equal ranks kept)."""
    rows = [[str(row.排名), str(row.Index), fmt_number(row.基本分), fmt_number(row.加分), fmt_number(row.总分),
             str(row.缺报项数) if row.缺报项数 else ""] for row in totals.sort_values("排名", kind="stable").itertuples()]
    return PlainRowsTable(Table("排名", "区", "基本分", "加分", "总分", "缺报项数", title="考核排名"), rows)


CLOSE_MARGIN = 1.0  # neighbouring ranks closer than this many points are shown in the terminal


def print_robustness(robust, book) -> None:
    """排名稳健性 in short: the close neighbouring pairs, the 缺报 items that could move a rank, the alternatives."""
    from assess_xl.score import robustness
    close = [pair for pair in robust.pairs if pair.margin < CLOSE_MARGIN]
    console.print(f"排名稳健性：相邻名次{len(robust.pairs)}对，其中分差小于{fmt_number(CLOSE_MARGIN)}分的{len(close)}对"
                  "（全部见报告的“排名稳健性”工作表）。")
    for pair in close[:10]:
        change = robustness.change_sentence(pair.smallest, book) if pair.smallest else "单个填报值改动不能使二者互换"
        console.print(f"  第{pair.upper_rank}名{escape(pair.upper)}与第{pair.lower_rank}名{escape(pair.lower)}相差"
                      f"{fmt_number(pair.margin)}分，差在{escape(robustness.deciding_text(pair, book))}；{escape(change)}。")
    for flag in robust.missing[:10]:
        console.print(f"  [yellow]缺报[/] {escape(robustness.missing_text(flag, book))}。")
    for alternative in robust.alternatives:
        moved = "、".join(f"{d}（第{robust.ranks[d]}名→第{alternative.ranks[d]}名）" for d in alternative.moved)
        console.print(f"  按另一种解读“{escape(alternative.name)}”：{escape(moved) or '名次不变'}。")


def print_status(table, files, states) -> None:
    """One row per department, readable at 80 columns and when redirected: its state, then the districts."""
    from assess_xl.publish import status as status_module
    view = Table("部门", "状态", "已填齐", "未交", "部分填写", title=f"填报情况（{len(table.columns)}个区）")
    for column in view.columns:
        column.overflow = "fold"
    for department, row in zip(table.index, table.values.tolist()):
        complete = [d for d, cell in zip(table.columns, row) if cell == status_module.COMPLETE]
        missing = [d for d, cell in zip(table.columns, row) if cell == status_module.NOT_RETURNED]
        partial = [f"{d}（{cell.split()[-1]}）" for d, cell in zip(table.columns, row)
                   if cell not in (status_module.COMPLETE, status_module.NOT_RETURNED)]
        view.add_row(escape(department), state_text(states.get(department)), f"{len(complete)}/{len(table.columns)}",
                     f"[red]{escape('、'.join(missing))}[/]" if missing else "", escape("、".join(partial)))
    console.print(view)
    for department, names in files.items():
        if names:
            console.print(f"  {escape(department)}：{escape(names)}")
    for department, districts in status_module.owing(table).items():
        console.print(f"[yellow]待催报：[/]{escape(department)}（{escape('、'.join(districts))}）")


def state_text(state) -> str:
    if state is None:
        return ""
    if state.state == "有错待改":
        parts = [f"改{state.to_fix}处" if state.to_fix else "", f"补{state.owed}处" if state.owed else ""]
        return f"[yellow]有错待改[/]（{'，'.join(p for p in parts if p)}）"
    return "[red]未交[/]" if state.state == "未交" else "[green]齐全[/]"


def print_fetched(fetched, folder: Path) -> bool:
    """What was saved, what had no workbook, which messages were skipped or are to be tried again;
    True when every new message was saved or set aside for good."""
    from assess_xl.read import fetch as fetch_module
    for line in fetch_module.summary(fetched, folder):
        console.print(escape(line))
    for line in fetched.refused:
        errors_console.print(f"[red]已跳过：[/]{escape(line)}")
    for line in fetched.retry:
        errors_console.print(f"[yellow]未收到：[/]{escape(line)}")
    return not (fetched.refused or fetched.retry)
