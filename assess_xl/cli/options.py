"""Options shared by several commands and what they turn into: the rulebook, the district list, output
paths, a run's options, the contacts."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from assess_xl import year as year_module
from assess_xl.cli.errors import stop
from assess_xl.cli.output import console, errors_console
from assess_xl.run_options import CollectOptions
from assess_xl.rules import load as rulebook_load
from assess_xl.rules.model import Rulebook
from assess_xl.problems import Code

if TYPE_CHECKING:
    from assess_xl.publish import outbox
    from assess_xl.read.merge import ReadResult

RULES_OPTION = click.option("--rules", "rules_path", type=click.Path(dir_okay=False), metavar="细则文件",
                            help="评分细则文件（YAML，或 rules export 生成的 .xlsx）；默认使用内置的2007年度细则。")
DISTRICTS_HELP = "被考核的区：名单文件（每行一个区，UTF-8），或用逗号、顿号或空格分隔的区名，如“玄武区,秦淮区”。"


def load_rulebook(path: str | None) -> Rulebook:
    """The rulebook of --rules (the embedded one when not given); errors stop the command (exit 2)."""
    return rulebook_load.load(path)


def refuse_existing(target: Path, force: bool) -> None:
    """Templates and copies are filled in by people: writing over one would lose their work."""
    if target.exists() and not force:
        stop(Code.OUTPUT_EXISTS, target=target)


def output_path(given: str, what: str) -> Path:
    """An output workbook path: `.xlsx` added when there is no suffix, any other suffix refused."""
    path = Path(given)
    if path.suffix.lower() == ".xlsx":
        return path
    if path.suffix == "" or not re.fullmatch(r"\.[A-Za-z0-9]{1,5}", path.suffix):
        return path.with_name(path.name + ".xlsx")
    stop(Code.OUTPUT_NOT_XLSX, what=what, suffix=path.suffix, suggested=path.with_suffix(".xlsx"))


def collect_options(on_conflict: str, districts_spec: str | None, out: Path | None,
                    issuer: str | None = None) -> CollectOptions:
    return CollectOptions(strict_conflicts=on_conflict == "error",
                          districts=year_module.parse_districts(districts_spec) if districts_spec else None,
                          output=out, issuer=issuer.strip() if issuer and issuer.strip() else None,
                          generated=datetime.now())


def with_adjustments(options: CollectOptions, path: str | None) -> CollectOptions:
    """The options with the coordinator's adjustments workbook, when one is given."""
    if path:
        options.adjustments, options.adjustments_name = Path(path).read_bytes(), Path(path).name
    return options


def load_contacts(path: str, book: Rulebook) -> dict[str, outbox.Contact]:
    """The contacts of --contacts; rows that cannot be used are shown and left out."""
    contacts, problems = year_module.read_contacts(Path(path), book)
    for problem in problems:
        errors_console.print(f"[yellow]通讯录：[/]{escape(problem.message)}")
    return contacts


def read_or_stop(paths, book: Rulebook, options: CollectOptions) -> ReadResult:
    from assess_xl import pipeline
    with console.status("正在读取交回的文件……"):
        return pipeline.read_or_stop(paths, book, options)
