"""`demo`: the whole flow on the embedded rulebook and sample data."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from assess_xl import demo as demo_module
from assess_xl.publish import forms as forms_module
from assess_xl.pipeline import CollectOptions
from assess_xl.cli.chinese import ChineseCommand
from assess_xl.cli.errors import EXIT_CLEAN
from assess_xl.cli.collect import run_collect
from assess_xl.cli.forms import make_forms
from assess_xl.cli.options import load_rulebook
from assess_xl.cli.output import console, print_summary


@click.command(cls=ChineseCommand)
@click.option("-o", "--output", "out_dir", default="assess-xl-demo", type=click.Path(file_okay=False), metavar="文件夹",
              help="演示文件写入的文件夹（默认 assess-xl-demo）。")
def demo(out_dir):
    """演示完整流程：用内置2007年度细则和示例数据生成填报表、模拟各部门填写、汇总评分。"""
    book = load_rulebook(None)
    out = Path(out_dir)
    districts = demo_module.sample_districts()
    blank = make_forms(book, districts, out / "1-空白填报表")
    inbox = out / "2-交回的填报表"
    inbox.mkdir(parents=True, exist_ok=True)
    entries = demo_module.sample_entries(book)
    by_name = {p.name: p for p in blank}
    full_departments = ["办公室", "综合处", "环监局"]  # these fill the full workbook, the others their own copy
    demo_module.fill_workbook(by_name[forms_module.file_name(book, None)], inbox / "全部部门-综合处汇总.xlsx",
                              {d: entries[d] for d in full_departments if d in entries})
    for department, codes in entries.items():
        if department not in full_departments:
            demo_module.fill_workbook(by_name[forms_module.file_name(book, department)],
                                      inbox / f"{department}-已填.xlsx", {department: codes})
    report_path = out / "3-考核结果.xlsx"
    result = run_collect([inbox], report_path, book, CollectOptions(output=report_path))
    console.print(f"空白填报表：{escape(str(out / '1-空白填报表'))}（{len(blank)}个文件）")
    console.print(f"模拟交回的填报表：{escape(str(inbox))}")
    print_summary(result, book, report_path)
    console.print("示例数据中故意含有几处填写错误和空白，用来展示“问题清单”。")
    sys.exit(EXIT_CLEAN)
