"""Options shared by several commands and what they turn into: the rulebook, the district list, output
paths, a run's options, the contacts."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import click
from rich.markup import escape

from assess_xl import demo as demo_module
from assess_xl import pipeline
from assess_xl import year as year_module
from assess_xl.rules import model as rulebook_module
from assess_xl.xlsx.layout import district_name_problems, split_district_names
from assess_xl.pipeline import CollectOptions
from assess_xl.cli.errors import UserError
from assess_xl.cli.output import console, errors_console, problem_lines


def load_rulebook(path: str | None):
    try:
        return rulebook_module.load(path)
    except rulebook_module.RulebookError as exc:
        raise UserError("评分细则无法使用：\n" + "\n".join(exc.messages)) from None


RULES_OPTION = click.option("--rules", "rules_path", type=click.Path(dir_okay=False), metavar="细则文件",
                            help="评分细则文件（YAML，或 rules export 生成的 .xlsx）；默认使用内置的2007年度细则。")


DISTRICTS_HELP = "被考核的区：名单文件（每行一个区，UTF-8），或用逗号、顿号或空格分隔的区名，如“玄武区,秦淮区”。"


def load_raw_rules(path: str | None) -> dict:
    try:
        return rulebook_module.load_raw(path)
    except rulebook_module.RulebookError as exc:
        raise UserError("评分细则无法使用：\n" + "\n".join(exc.messages)) from None


def refuse_existing(target: Path, force: bool) -> None:
    """Templates and copies are filled in by people: writing over one would lose their work."""
    if target.exists() and not force:
        raise UserError(f"{target} 已存在，没有覆盖（其中可能已有填写的内容）。换一个文件名，或加 --force 覆盖。")


def parse_districts(spec: str) -> list[str]:
    """A file (one district per line, UTF-8 with or without BOM) or a list separated by commas, 顿号 or
    semicolons (names may then hold spaces), or else by spaces. Every name is checked as forms would check it."""
    path = Path(spec)
    try:
        is_file = path.is_file()
    except OSError:  # a long list is not a file name
        is_file = False
    if is_file:
        try:
            names = demo_module.read_district_list(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError:
            raise UserError(f"区名单文件 {path} 不是UTF-8编码。请用记事本“另存为”UTF-8后重试。") from None
    else:
        names = split_district_names(spec)
    problems = district_name_problems(names)
    if problems:
        raise UserError("区名单不能使用：\n" + "\n".join(problems))
    return names


def output_path(given: str, what: str) -> Path:
    """An output workbook path: `.xlsx` added when there is no suffix, any other suffix refused."""
    path = Path(given)
    if path.suffix.lower() == ".xlsx":
        return path
    if path.suffix == "" or not re.fullmatch(r"\.[A-Za-z0-9]{1,5}", path.suffix):
        return path.with_name(path.name + ".xlsx")
    raise UserError(f"{what}只能保存为.xlsx工作簿，不能保存为“{path.suffix}”。请改为 {path.with_suffix('.xlsx')}。")


def collect_options(on_conflict: str, districts_spec: str | None, out: Path | None,
                    issuer: str | None = None) -> CollectOptions:
    return CollectOptions(strict_conflicts=on_conflict == "error",
                          districts=parse_districts(districts_spec) if districts_spec else None, output=out,
                          issuer=issuer.strip() if issuer and issuer.strip() else None, generated=datetime.now())


def with_adjustments(options: CollectOptions, path: str | None) -> CollectOptions:
    """The options with the coordinator's adjustments workbook, when one is given."""
    if path:
        options.adjustments, options.adjustments_name = Path(path).read_bytes(), Path(path).name
    return options


def load_contacts(path: str, book) -> dict:
    try:
        contacts, problems = year_module.read_contacts(Path(path), book)
    except year_module.YearError as exc:
        raise UserError(exc.problem.message) from None
    for problem in problems:
        errors_console.print(f"[yellow]通讯录：[/]{escape(problem)}")
    return contacts


def read_or_stop(paths, book, options: CollectOptions):
    with console.status("正在读取交回的文件……"):
        read, _ = pipeline.read(paths, book, options)
    if read.worker_failures:
        raise UserError(f"本机无法启动读取进程，以下文件未能读取：{'、'.join(read.worker_failures)}。请检查内存和安装后重试。")
    if not read.districts:
        raise UserError("没有读到任何本细则的填报表。" + problem_lines(read, 10))
    return read
