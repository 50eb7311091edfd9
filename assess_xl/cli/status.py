"""`status`: who has returned what."""
from __future__ import annotations

import sys
from datetime import datetime

import click
from rich.markup import escape

from assess_xl import pipeline
from assess_xl.publish import scorecard as report
from assess_xl.publish import returns as returns_module
from assess_xl.publish import status as status_module
from assess_xl.cli.chinese import ChineseCommand
from assess_xl.cli.errors import EXIT_CLEAN, EXIT_PROBLEMS, UserError, refuse_if_open, write_atomically
from assess_xl.cli.options import RULES_OPTION, DISTRICTS_HELP, load_rulebook, output_path, collect_options
from assess_xl.cli.output import console, problem_lines, print_files, print_status


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
        refuse_if_open(target)
    with console.status("正在读取交回的文件……"):
        read, _ = pipeline.read(paths, book, collect_options("latest", districts_spec, None))
    if read.worker_failures:
        raise UserError(f"本机无法启动读取进程，以下文件未能读取：{'、'.join(read.worker_failures)}。请检查内存和安装后重试。")
    if not read.districts:
        raise UserError("没有读到任何本细则的填报表。" + problem_lines(read, 10))
    table = status_module.matrix(book, read)
    files = status_module.files(book, read)
    print_files(read)
    print_status(table, files, returns_module.department_states(book, read))
    owing = status_module.owing(table)
    if target:
        write_atomically(target, report.status_workbook(table, files, book.title, datetime.now()))
        console.print(f"填报情况已写入 {escape(str(target))}")
    sys.exit(EXIT_PROBLEMS if owing else EXIT_CLEAN)
