"""Blank workbooks for the coordinator to fill: `adjustments-template` and `contacts-template`."""
from __future__ import annotations

import click
from rich.markup import escape

from assess_xl import year as year_module
from assess_xl.cli.chinese import ChineseCommand
from assess_xl.cli.errors import EXIT_CLEAN
from assess_xl.cli.options import DISTRICTS_HELP, RULES_OPTION, load_rulebook, output_path, refuse_existing
from assess_xl.cli.output import console
from assess_xl import files
from assess_xl.publish import outbox
from assess_xl.score import adjustments as adjustments_module


@click.command("adjustments-template", cls=ChineseCommand)
@click.option("-o", "--output", "out", required=True, metavar="文件", help="调整表的保存路径（.xlsx）。")
@RULES_OPTION
@click.option("--districts", "districts_spec", default=None, metavar="区名单", help="区名单（给出时“区”列有下拉列表）。" + DISTRICTS_HELP)
@click.option("--force", is_flag=True, help="文件已存在时覆盖它。")
def adjustments_template(out, rules_path, districts_spec, force):
    """生成空白的复核调整表：“调整”表逐行记录更正（区、编号、新值、理由、经办人、日期），“排除文件”表记录误发的文件。"""
    book = load_rulebook(rules_path)
    target = output_path(out, "调整表")
    refuse_existing(target, force)
    districts = year_module.parse_districts(districts_spec) if districts_spec else None
    files.write_file(target, adjustments_module.template(book, districts))
    console.print(f"调整表已写入 {escape(str(target))}。填写后用 collect --adjustments 使用。")
    return EXIT_CLEAN


@click.command("contacts-template", cls=ChineseCommand)
@click.option("-o", "--output", "out", required=True, metavar="文件", help="通讯录的保存路径（.xlsx）。")
@RULES_OPTION
@click.option("--force", is_flag=True, help="文件已存在时覆盖它。")
def contacts_template(out, rules_path, force):
    """生成通讯录模板（部门、联系人、邮箱），已列出评分细则中的各部门。"""
    book = load_rulebook(rules_path)
    target = output_path(out, "通讯录")
    refuse_existing(target, force)
    files.write_file(target, outbox.contacts_template(book))
    console.print(f"通讯录模板已写入 {escape(str(target))}。填好邮箱后用于 assess-xl send。")
    return EXIT_CLEAN
