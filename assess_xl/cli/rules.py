"""`rules`: check, init, export, import, diff and replay a rulebook."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import click
import yaml
from rich.markup import escape
from rich.table import Table

from assess_xl.cli.chinese import ChineseGroup
from assess_xl.cli.errors import EXIT_CLEAN, stop
from assess_xl.cli.options import load_rulebook, output_path, read_or_stop, refuse_existing, with_adjustments
from assess_xl.cli.output import console, errors_console
from assess_xl.pipeline import CollectOptions
from assess_xl import files
from assess_xl.rules import diff as rulediff
from assess_xl.rules import load as rulebook_load
from assess_xl.rules import model as rulebook_module
from assess_xl.rules.model import Rulebook
from assess_xl.rules import sheet as rulesheet
from assess_xl.rules.components import fmt_number
from assess_xl.score import adjustments as adjustments_module
from assess_xl.score import replay as replay_module
from assess_xl.problems import Code


@click.group(cls=ChineseGroup, no_args_is_help=True)
def rules():
    """评分细则（rulebook）相关命令。"""


@rules.command("check")
@click.argument("rulebook", required=False, type=click.Path(dir_okay=False), metavar="[细则文件]")
def rules_check(rulebook):
    """检查评分细则文件并打印摘要和警告（默认检查内置的2007年度细则）。"""
    book = load_rulebook(rulebook)
    figures = rulebook_module.summary(book)
    console.print(f"[bold]{escape(book.title)}[/]（{book.year}年度，指纹 {book.fingerprint}）")
    console.print(f"类别 {figures['categories']} 个，目标 {figures['targets']} 个，填报指标 {figures['indicators']} 个；"
                  f"基本分满分 {fmt_number(figures['nominal'])} 分，按规则最高可得 {fmt_number(figures['reachable'])} 分。")
    table = Table("部门", "指标数", title="各部门填报指标")
    for department, count in figures["per_department"].items():
        table.add_row(escape(department), str(count))
    console.print(table)
    for warning in book.warnings:
        console.print(f"[yellow]警告：[/]{escape(warning.message)}")
    console.print(f"共 {len(book.warnings)} 条警告。" if book.warnings else "没有警告。")
    return EXIT_CLEAN


def rules_file(given: str) -> Path:
    path = Path(given)
    if path.suffix.lower() not in (".yaml", ".yml", ".xlsx"):
        stop(Code.RULES_SUFFIX, suffix=path.suffix or "（无扩展名）")
    return path


def rules_content(raw: dict, target: Path) -> bytes:
    if target.suffix.lower() == ".xlsx":
        return rulesheet.export(raw)
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, width=1000).encode("utf-8")


@rules.command("init")
@click.option("-o", "--output", "out", required=True, metavar="文件", help="新细则的保存路径：.yaml 或 .xlsx（按扩展名）。")
@click.option("--force", is_flag=True, help="文件已存在时覆盖它。")
def rules_init(out, force):
    """写出内置的2007年度细则的副本，作为下一年度细则的起点。"""
    target = rules_file(out)
    refuse_existing(target, force)
    embedded = rulebook_load.embedded_rulebook_path()
    content = embedded.read_bytes() if target.suffix.lower() != ".xlsx" else rulesheet.export(rulebook_load.load_raw(None))
    files.write_file(target, content)
    console.print(f"已写出内置细则的副本：{escape(str(target))}。修改后用 assess-xl rules check {escape(str(target))} 检查。")
    return EXIT_CLEAN


@rules.command("export")
@click.argument("rulebook", type=click.Path(dir_okay=False), metavar="细则文件")
@click.option("-o", "--output", "out", required=True, metavar="文件", help="工作簿的保存路径（.xlsx）。")
def rules_export(rulebook, out):
    """把评分细则（YAML）转为可在Excel中编辑的工作簿（说明、类别、目标、指标、计分）。"""
    _, target = rewrite(rulebook, lambda: output_path(out, "细则工作簿"))
    console.print(f"细则工作簿已写入 {escape(str(target))}")
    return EXIT_CLEAN


@rules.command("import")
@click.argument("workbook", type=click.Path(dir_okay=False), metavar="细则.xlsx")
@click.option("-o", "--output", "out", required=True, metavar="文件", help="YAML细则的保存路径（.yaml）。")
def rules_import(workbook, out):
    """把在Excel中编辑的细则工作簿转回YAML（先检查，有错误时逐条说明工作表、行和列）。"""
    book, target = rewrite(workbook, lambda: rules_file(out))
    console.print(f"细则已写入 {escape(str(target))}（指纹 {book.fingerprint}）")
    return EXIT_CLEAN


def rewrite(source: str, target_of: Callable[[], Path]) -> tuple[Rulebook, Path]:
    """The rulebook `source` in the form the suffix of `target_of()` says: a rulebook that does not load
    is refused before the target is looked at, and nothing is written."""
    raw = rulebook_load.load_raw(source)
    book = load_rulebook(source)
    target = target_of()
    files.write_file(target, rules_content(raw, target))
    return book, target


@rules.command("diff")
@click.argument("old", type=click.Path(dir_okay=False), metavar="旧细则")
@click.argument("new", type=click.Path(dir_okay=False), metavar="新细则")
def rules_diff(old, new):
    """比较两份评分细则（YAML或工作簿）：类别、目标、分值、指标、部门、计分方式的变化，以及各部门须新填报的指标。"""
    lines = rulediff.diff(rulebook_load.load_raw(old), rulebook_load.load_raw(new))
    for line in lines:
        console.print(escape(line))
    console.print(f"共 {len(lines)} 处变化。" if lines else "两份细则的内容相同。")
    return EXIT_CLEAN


@rules.command("replay")
@click.argument("old", type=click.Path(dir_okay=False), metavar="旧细则")
@click.argument("new", type=click.Path(dir_okay=False), metavar="新细则")
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="交回的文件或文件夹...")
@click.option("-o", "--output", "out", required=True, metavar="文件", help="影响分析工作簿的保存路径（.xlsx）。")
@click.option("--adjustments", "adjustments_path", default=None, type=click.Path(dir_okay=False, exists=True),
              metavar="调整表", help="综合处的复核调整表（按旧细则填写）：先更正数值、排除误发的文件，再计分。")
def rules_replay(old, new, paths, out, adjustments_path):
    """用今年交回的填报表，按旧细则和新细则分别计分：各区总分、排名的变化及造成变化的目标。"""
    old_book, new_book = load_rulebook(old), load_rulebook(new)
    target = output_path(out, "影响分析")
    options = with_adjustments(CollectOptions(), adjustments_path)
    read = read_or_stop(paths, old_book, options)
    result = replay_module.replay(old_book, new_book, read.values, read.adjustments if adjustments_path else None,
                                  options.adjustments_name)
    for problem in [p for p in read.problems if p.kind in adjustments_module.PROBLEM_KINDS]:
        errors_console.print(f"[yellow]调整表未采用[/] {escape(problem.cell)}：{escape(problem.message)}")
    for line in result.adjusted:
        console.print(escape(line))
    files.write_file(target, replay_module.workbook(result, old_book, new_book))
    moved = result.summary[result.summary["排名变化"] != 0]
    for district, row in moved.iterrows():
        console.print(f"{escape(str(district))}：排名 {int(row['原排名'])} → {int(row['新排名'])}，"
                      f"总分 {fmt_number(row['原总分'])} → {fmt_number(row['新总分'])}（{escape(row['影响的目标'])}）")
    if result.not_available:
        console.print(f"新细则新增的指标在原填报表中没有数据（按缺报计）：{'、'.join(result.not_available)}")
    console.print(f"影响分析已写入 {escape(str(target))}（{len(moved)}个区排名变化）")
    return EXIT_CLEAN
