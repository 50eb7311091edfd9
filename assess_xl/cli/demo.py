"""`demo`: the whole flow on the embedded rulebook and sample data (assess_xl.demo.run), then shown."""
from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from assess_xl import demo as demo_module
from assess_xl.cli.chinese import ChineseCommand
from assess_xl.cli.errors import EXIT_CLEAN
from assess_xl.cli.output import console, print_summary


@click.command(cls=ChineseCommand)
@click.option("-o", "--output", "out_dir", default="assess-xl-demo", type=click.Path(file_okay=False), metavar="文件夹",
              help="演示文件写入的文件夹（默认 assess-xl-demo）。")
def demo(out_dir):
    """演示完整流程：用内置2007年度细则和示例数据生成填报表、模拟各部门填写、汇总评分。"""
    with console.status("正在生成填报表、模拟填写并汇总……"):
        done = demo_module.run(Path(out_dir))
    console.print(f"空白填报表：{escape(str(done.forms_dir))}（{len(done.blank)}个文件）")
    console.print(f"模拟交回的填报表：{escape(str(done.inbox))}")
    print_summary(done.result, done.book, done.scorecard)
    console.print("示例数据中故意含有几处填写错误和空白，用来展示“问题清单”。")
    return EXIT_CLEAN
