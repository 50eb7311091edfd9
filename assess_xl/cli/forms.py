"""`forms` (blank or prefilled) and `returns` (copies to fix)."""
from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from assess_xl import pipeline
from assess_xl import year as year_module
from assess_xl.cli.chinese import ChineseCommand
from assess_xl.cli.errors import EXIT_CLEAN, EXIT_PROBLEMS, stop
from assess_xl.cli.options import DISTRICTS_HELP, RULES_OPTION, collect_options, load_rulebook, read_or_stop
from assess_xl.cli.output import console
from assess_xl.pipeline import CollectOptions
from assess_xl import files
from assess_xl.publish import forms as forms_module
from assess_xl.publish import returns as returns_module
from assess_xl.read import form as readback
from assess_xl.problems import Code


def make_forms(book, districts, out_dir: Path, password=None, force: bool = True) -> list[Path]:
    built = forms_module.build_forms(book, districts, password)
    if not force:
        pipeline.refuse_foreign_forms(out_dir, book, districts)
    written = [(out_dir / form.name, form.content) for form in built]
    files.write_files(written)
    return [path for path, _ in written]


@click.command(cls=ChineseCommand)
@click.option("--districts", "districts_spec", default=None, metavar="区名单",
              help=DISTRICTS_HELP + "使用 --prefill 时可省略（取交回的填报表中的区名单）。")
@RULES_OPTION
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), metavar="文件夹",
              help="填报表写入的文件夹（不存在则新建）。")
@click.option("--password", default=None, metavar="密码", help="工作表保护密码（默认不设密码，只锁定非填报单元格）。")
@click.option("--force", is_flag=True, help="文件夹中已有其他区名单或其他细则的填报表时，仍然写入。")
@click.option("--prefill", "prefill_paths", multiple=True, type=click.Path(), metavar="文件或文件夹",
              help="把已交回的填报表中的数据预先填入新表（可多次给出），中途重发填报表时不必重填。")
@click.option("--prefill-rules", "prefill_rules_path", default=None, type=click.Path(dir_okay=False), metavar="细则文件",
              help="交回的填报表所用的细则（默认：与 --rules 相同；不同时再试内置的2007年度细则）。"
                   "编号和类型都没有变的指标才预填。")
def forms(districts_spec, rules_path, out_dir, password, force, prefill_paths, prefill_rules_path):
    """生成填报表：一个包含全部部门的工作簿，以及每个部门一份单独的工作簿。"""
    book = load_rulebook(rules_path)
    if prefill_paths:
        return make_prefilled_forms(book, districts_spec, prefill_paths, prefill_rules_path, Path(out_dir), force)
    if not districts_spec:
        stop(Code.FORMS_NO_DISTRICTS)
    districts = year_module.parse_districts(districts_spec)
    written = make_forms(book, districts, Path(out_dir), password, force)
    console.print(f"已为{len(districts)}个区生成{book.year}年度填报表，共{len(written)}个文件，位于 {escape(out_dir)}：")
    for path in written:
        console.print(f"  {escape(path.name)}")
    return EXIT_CLEAN


def make_prefilled_forms(book, districts_spec, paths, prefill_rules: str | None, out_dir: Path, force: bool) -> int:
    """The forms prefilled with what the returns hold that the rules still ask in the same way; says how
    many cells were prefilled and which indicators could not be and why. Exit 1 when nothing could be."""
    options = collect_options("latest", districts_spec, None)
    old, read = read_returns(paths, book, prefill_rules, options)
    districts = options.districts or read.districts
    carried = returns_module.carried_over(old, book, read, districts)
    if not force:
        pipeline.refuse_foreign_forms(out_dir, book, districts)
    built = returns_module.prefilled_forms(book, carried, districts)
    files.write_files([(out_dir / form.name, form.content) for form in built])
    console.print(f"已生成{book.year}年度填报表，共{len(built)}个文件，位于 {escape(str(out_dir))}。")
    if old is not book:
        console.print(f"交回的填报表按{escape(old.title)}（指纹 {old.fingerprint}）读取，"
                      f"编号和类型都没有变的指标才预填。")
    reasons: dict[str, list[str]] = {}
    for code, why in carried.not_carried.items():
        reasons.setdefault(why, []).append(code)
    for why, codes in reasons.items():
        console.print(f"  [yellow]未预填[/] {escape('、'.join(codes))}：{escape(why)}")
    if not carried.values:
        console.print("[red]没有预填任何单元格[/]：交回的填报表中没有本细则可以沿用的数据，生成的是空白填报表。")
        return EXIT_PROBLEMS
    indicators = len({code for code, _ in carried.values})
    console.print(f"预填了{len(carried.values)}个单元格（{indicators}个指标）。")
    return EXIT_CLEAN


def read_returns(paths, book, prefill_rules: str | None, options: CollectOptions):
    """The returns read with the rulebook they were made with: --rules, else --prefill-rules, else the embedded
    one (the forms record only a rulebook's fingerprint, so each candidate is tried in turn)."""
    candidates = {book.fingerprint: book}
    for extra in ([load_rulebook(prefill_rules)] if prefill_rules else []) + [load_rulebook(None)]:
        candidates.setdefault(extra.fingerprint, extra)
    *others, last = [book] + [c for c in candidates.values() if c is not book]
    for candidate in others:
        with console.status("正在读取交回的文件……"):
            read, _ = pipeline.read(paths, candidate, options)
        if any(report.status == readback.READ for report in read.files):
            return candidate, read
    return last, read_or_stop(paths, last, options)


def write_return_copies(book, read, folder: Path) -> None:
    copies = returns_module.return_copies(book, read)
    if not copies:
        console.print("没有需要退回修改的部门。")
        return
    files.write_files([(folder / copy.name, copy.content) for copy in copies])
    departments = "、".join(copy.departments[0] for copy in copies)
    console.print(f"退回修改的填报表已写入 {escape(str(folder))}（{len(copies)}个部门：{escape(departments)}）")


@click.command("returns", cls=ChineseCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="文件或文件夹...")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), metavar="文件夹",
              help="退回修改的填报表写入的文件夹。")
@RULES_OPTION
@click.option("--districts", "districts_spec", default=None, metavar="区名单",
              help="本次考核的区（默认取交回的填报表中一致的区名单）。" + DISTRICTS_HELP)
def returns_command(paths, out_dir, rules_path, districts_spec):
    """为有错误或缺报的部门生成退回修改的填报表：已接受的数据预先填好，需改正和未填写的单元格标出并加批注。"""
    book = load_rulebook(rules_path)
    read = read_or_stop(paths, book, collect_options("latest", districts_spec, None))
    write_return_copies(book, read, Path(out_dir))
    return EXIT_CLEAN
