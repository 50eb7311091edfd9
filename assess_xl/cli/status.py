"""`status`: who has returned what."""
from __future__ import annotations

from datetime import datetime

import click
from rich.markup import escape

from assess_xl.cli.chinese import ChineseCommand
from assess_xl.cli.errors import EXIT_CLEAN, EXIT_PROBLEMS
from assess_xl.cli.options import DISTRICTS_HELP, RULES_OPTION, collect_options, load_rulebook, output_path, read_or_stop
from assess_xl.cli.output import console, print_files, print_status
from assess_xl import files
from assess_xl.publish import returns as returns_module
from assess_xl.publish import scorecard as report
from assess_xl.publish import status as status_module


@click.command(cls=ChineseCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="文件或文件夹...")
@RULES_OPTION
@click.option("--districts", "districts_spec", default=None, metavar="区名单",
              help="本次考核的区（默认取交回的填报表中一致的区名单）。" + DISTRICTS_HELP)
@click.option("-o", "--output", "out", default=None, metavar="文件", help="同时把填报情况表保存为工作簿（.xlsx）。")
def status(paths, rules_path, districts_spec, out):
    """查看各部门对各区的填报情况：谁已交、谁未交、由哪个文件提供。"""
    book = load_rulebook(rules_path)
    target = output_path(out, "填报情况表") if out else None
    if target:
        files.refuse_if_in_use(target)
    read = read_or_stop(paths, book, collect_options("latest", districts_spec, None))
    table = status_module.matrix(book, read)
    providers = status_module.files(book, read)
    print_files(read)
    print_status(table, providers, returns_module.department_states(book, read))
    owing = status_module.owing(table)
    if target:
        files.write_file(target, report.status_workbook(table, providers, book.title, datetime.now()))
        console.print(f"填报情况已写入 {escape(str(target))}")
    return EXIT_PROBLEMS if owing else EXIT_CLEAN
