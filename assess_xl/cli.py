"""Command line: arguments, paths, terminal output, exit statuses. Nothing else lives here."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import rulebook as rulebook_module
from .components import fmt_number

EXIT_CLEAN, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
console = Console(highlight=False, soft_wrap=True)


class UserError(click.ClickException):
    """One clear line and exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None):
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]错误：[/]{self.message}")


def load_rulebook(path: str | None):
    try:
        return rulebook_module.load(path)
    except rulebook_module.RulebookError as exc:
        raise UserError("评分细则无法使用：\n" + "\n".join(exc.messages)) from None


RULES_OPTION = click.option("--rules", "rules_path", type=click.Path(dir_okay=False),
                            help="评分细则文件（YAML）；默认使用内置的2007年度细则。")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="assess-xl", message="assess-xl %(version)s")
def main():
    """目标责任制考核：生成填报表、回收汇总、按评分细则计分并出具考核结果表。"""


@main.group()
def rules():
    """评分细则（rulebook）相关命令。"""


@rules.command("check")
@click.argument("rulebook", required=False, type=click.Path(dir_okay=False))
def rules_check(rulebook):
    """检查评分细则文件并打印摘要和警告（默认检查内置的2007年度细则）。"""
    book = load_rulebook(rulebook)
    figures = rulebook_module.summary(book)
    console.print(f"[bold]{book.title}[/]（{book.year}年度，指纹 {book.fingerprint}）")
    console.print(f"类别 {figures['categories']} 个，目标 {figures['targets']} 个，填报指标 {figures['indicators']} 个；"
                  f"基本分满分 {fmt_number(figures['nominal'])} 分，按规则最高可得 {fmt_number(figures['reachable'])} 分。")
    table = Table("部门", "指标数", title="各部门填报指标")
    for department, count in figures["per_department"].items():
        table.add_row(department, str(count))
    console.print(table)
    for warning in book.warnings:
        console.print(f"[yellow]警告：[/]{warning}")
    console.print(f"共 {len(book.warnings)} 条警告。" if book.warnings else "没有警告。")
    sys.exit(EXIT_CLEAN)
