"""`collect` (the scorecard, with notices, returns and PDF on request) and `pdf`. What only the optional
outputs need (notices, PDF, return copies, the sealed bundle) is imported when one is asked for, and the
pipeline (pandas) only once the returns are being read: the reader children work meanwhile."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Sequence

import click
from rich.markup import escape

from assess_xl import year as year_module
from assess_xl.cli.chinese import ChineseCommand
from assess_xl.cli.errors import EXIT_CLEAN, EXIT_PROBLEMS, stop
from assess_xl.cli.options import DISTRICTS_HELP, RULES_OPTION, collect_options, load_contacts, load_rulebook, output_path, with_adjustments
from assess_xl.cli.output import console, errors_console, print_nothing_filled, print_summary
from assess_xl.run_options import CollectOptions, Outcome, start_reading
from assess_xl import files
from assess_xl.problems import Code
from assess_xl.xlsx import printfit
from assess_xl.xlsx.collector import collection_paused

if TYPE_CHECKING:
    from assess_xl import pipeline
    from assess_xl.pipeline import CollectResult
    from assess_xl.rules.model import Rulebook
    from assess_xl import seal as seal_module

YEAR_LOCK_WAIT = 10.0  # seconds a run waits for another holder of a year folder's lock


def run_collect(paths: Sequence[str | Path], out: Path, book: Rulebook, options: CollectOptions) -> pipeline.CollectResult:
    """Read, score and write the scorecard; the library refuses (exit 2) when nothing sound can be written."""
    files.refuse_if_in_use(out)
    with console.status("正在读取和检查交回的文件……"):
        reading = start_reading(paths, book, options, ahead=True)  # the children read while pandas is imported
        printfit.find_fonts_ahead()  # and fontconfig finds the scorecard's fonts
        pipeline = imported_pipeline()
        result: CollectResult = pipeline.collect(paths, book, options, reading)
    pipeline.stop_unless_scored(result, out)
    if result.outcome is Outcome.WRITTEN:
        files.write_file(out, result.content)
    return result


def imported_pipeline() -> ModuleType:
    """The pipeline, imported (pandas, numpy, the scorecard writer: a third of a second) with the cycle collector
    paused, since an import makes a great many objects and no garbage and each full collection meanwhile would
    scan them all; what the imports made is frozen (gc.freeze) before the collector resumes, so neither its
    first collection nor the run's later ones scan it."""
    with collection_paused():
        from assess_xl import pipeline
        gc.freeze()
    return pipeline


RUN_OPTIONS = [  # what decides a year's figures: shared by collect and seal, recorded in the sealed bundle
    RULES_OPTION,
    click.option("--districts", "districts_spec", default=None, metavar="区名单",
                 help="本次考核的区（默认取交回的填报表中一致的区名单）。" + DISTRICTS_HELP),
    click.option("--on-conflict", type=click.Choice(["latest", "error"]), default="latest",
                 help="同一项在不同文件中填写不同时：latest（默认）采用较晚提交的值；error 视为错误、该项不计分。"),
    click.option("--issuer", default=None, metavar="单位", help="印在考核结果和通报上的发文单位（默认取评分细则中的 issuer）。"),
    click.option("--contacts", "contacts_path", default=None, type=click.Path(dir_okay=False, exists=True),
                 metavar="通讯录", help="通讯录：来自通讯录以外邮箱的邮件照常读取，但在来源和问题清单中注明。"),
    click.option("--previous", "previous_path", default=None, type=click.Path(dir_okay=False, exists=True),
                 metavar="上年结果", help="上年用本工具生成的考核结果工作簿：汇总增加上年总分、上年排名和变化，并提示变化异常的数据。"),
    click.option("--adjustments", "adjustments_path", default=None, type=click.Path(dir_okay=False, exists=True),
                 metavar="调整表", help="综合处的复核调整表（adjustments-template 生成）：逐项更正数值、排除误发的文件，均须写明理由。"),
]


def run_options(command):
    for option in reversed(RUN_OPTIONS):
        command = option(command)
    return command


@dataclass
class Run:
    """The arguments that decide a year's figures, as typed (collect and seal)."""
    rules_path: str | None
    districts_spec: str | None
    on_conflict: str
    issuer: str | None
    contacts_path: str | None
    previous_path: str | None
    adjustments_path: str | None

    def rulebook(self, year):
        return load_rulebook(self.rules_path or (str(year.rulebook_path) if year and year.rulebook_path else None))

    def inputs(self, paths, year, book, target: Path) -> tuple[tuple[str, ...], CollectOptions]:
        """The paths to read and the options: a year folder's own, overridden by those typed."""
        options = collect_options(self.on_conflict, self.districts_spec, target, self.issuer)
        if year is not None:
            paths, options = (str(year.inbox),), year_options(year, book, options)
        if self.contacts_path:
            options.known_senders = year_module.known_senders(load_contacts(self.contacts_path, book))
        if self.previous_path:
            options.previous, options.previous_name = Path(self.previous_path).read_bytes(), Path(self.previous_path).name
        return tuple(paths), with_adjustments(options, self.adjustments_path)

    def sealable(self, paths, year, outputs: dict[str, bytes], written: list[Path]) -> seal_module.Sealable:
        """The files the run used, as seal stores them (a year folder's rulebook, adjustments and last year too)."""
        from assess_xl import seal as seal_module
        def used(typed: str | None, own: Path | None) -> Path | None:
            return Path(typed) if typed else own if own is not None and own.is_file() else None

        return seal_module.Sealable(list(paths), used(self.rules_path, year.rulebook_path if year else None),
                                    used(self.adjustments_path, year.adjustments_path if year else None),
                                    used(self.previous_path, year.previous_path if year else None), outputs, written)


@click.command(cls=ChineseCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="文件或文件夹或年度文件夹...")
@click.option("-o", "--output", "out", default=None, metavar="文件",
              help="考核结果工作簿的保存路径（.xlsx；不写扩展名时自动加上）。给出年度文件夹时默认写入其“结果/考核结果.xlsx”。")
@run_options
@click.option("--pdf", "with_pdf", is_flag=True, help="同时生成正式部分（汇总和各区得分表）的PDF，与结果工作簿同名。需要LibreOffice。")
@click.option("--notices", "notices_dir", default=None, type=click.Path(file_okay=False), metavar="文件夹",
              help="为每个区生成一份考核结果通报（Word文档），写入该文件夹。")
@click.option("--notice-template", default=None, type=click.Path(dir_okay=False, exists=True), metavar="模板",
              help="通报的Word样式模板（默认使用内置模板；可在Word中修改其样式后使用）。")
@click.option("--returns", "returns_dir", default=None, type=click.Path(file_okay=False), metavar="文件夹",
              help="同时为有错误或缺报的部门生成退回修改的填报表，写入该文件夹。")
@click.option("--seal", "seal_path", default=None, type=click.Path(dir_okay=False), metavar="封存包.zip",
              help="同时把本年度的细则、收到的全部文件、调整表、上年结果、输出和运行记录封存为一个BagIt包（.zip），可用 verify 核验。")
def collect(paths, out, rules_path, districts_spec, on_conflict, issuer, contacts_path, previous_path,
            adjustments_path, with_pdf, notices_dir, notice_template, returns_dir, seal_path):
    """读取交回的填报表（文件或文件夹），按细则计分，生成考核结果工作簿（可同时生成PDF和各区通报）。
    只给出一个年度文件夹时，读取其中的收件箱、评分细则、区名单、调整表和通讯录，结果写入其“结果”文件夹。"""
    run = Run(rules_path, districts_spec, on_conflict, issuer, contacts_path, previous_path, adjustments_path)
    year = year_module.given_year(paths)
    if year is None and not out:
        stop(Code.COLLECT_NO_OUTPUT)
    book = run.rulebook(year)
    target = output_path(out, "考核结果") if out else year.scorecard_path
    paths, options = run.inputs(paths, year, book, target)
    with year_lock(year):
        result = run_collect(paths, target, book, options)
        if result.outcome is Outcome.NOTHING_FILLED:
            print_nothing_filled(result.read)
            return EXIT_PROBLEMS
        print_summary(result, book, target)
        status = EXIT_CLEAN if result.complete else EXIT_PROBLEMS
        outputs, written = {target.name: result.content}, [target]
        if notices_dir:
            notices = write_notices(result, book, options, Path(notices_dir), notice_template)
            outputs.update({f"通报/{path.name}": content for path, content in notices})
            written += [path for path, _ in notices]
        if returns_dir:
            from assess_xl.cli.forms import write_return_copies
            write_return_copies(book, result.read, Path(returns_dir))
        if with_pdf:
            pdf = write_pdf(result.content, target.with_suffix(".pdf"), required=False)
            if pdf is not None:
                outputs[target.with_suffix(".pdf").name] = pdf
                written.append(target.with_suffix(".pdf"))
        if seal_path:
            write_seal(result, book, options, run.sealable(paths, year, outputs, written), Path(seal_path))
    return status


def write_seal(result, book, options: CollectOptions, sealable, target: Path) -> None:
    from assess_xl import seal as seal_module
    with console.status("正在封存……"):
        content = seal_module.seal(result, book, options, sealable)
    files.write_file(target, content)
    console.print(f"封存包已写入 {escape(str(target))}（BagIt格式，可用 assess-xl verify 核验）。")


def year_options(year, book, given: CollectOptions) -> CollectOptions:
    """The year folder's options (districts, adjustments, contacts, last year), overridden by those typed."""
    options = year_module.collect_options(year, book)
    options.strict_conflicts, options.output = given.strict_conflicts, given.output
    options.districts = given.districts or options.districts
    options.issuer = given.issuer or options.issuer
    return options


@contextmanager
def year_lock(year):
    """A run on a year's folder holds its lock (waiting a little for the console or another run)."""
    if year is None:
        yield
        return
    with year_module.locked(year, "命令行 collect", wait=YEAR_LOCK_WAIT):
        yield


def write_notices(result: pipeline.CollectResult, book, options: CollectOptions, folder: Path,
                  template_path: str | None) -> list[tuple[Path, bytes]]:
    from assess_xl import pipeline, yearwork
    template = Path(template_path) if template_path else None
    documents = yearwork.notice_files(book, result, pipeline.signature(book, options), template)
    written = [(folder / name, content) for name, content in documents]
    files.write_files(written)
    console.print(f"各区通报已写入 {escape(str(folder))}（{len(documents)}份）")
    return written


def write_pdf(scorecard: bytes, target: Path, required: bool = True) -> bytes | None:
    """The official sheets as a PDF; without LibreOffice, say how to install it (an error only when
    the PDF was all that was asked for)."""
    from assess_xl.publish import documents as publish
    try:
        content = publish.official_pdf(scorecard)
    except publish.PublishError as exc:
        if required:
            raise
        errors_console.print(f"[yellow]未生成PDF：[/]{escape(str(exc))}")
        return None
    files.write_file(target, content)
    console.print(f"PDF已写入 {escape(str(target))}")
    return content


@click.command("pdf", cls=ChineseCommand)
@click.argument("scorecard", type=click.Path(dir_okay=False, exists=True), metavar="考核结果.xlsx")
@click.option("-o", "--output", "out", default=None, metavar="文件", help="PDF的保存路径（默认与考核结果同名，扩展名.pdf）。")
def pdf_command(scorecard, out):
    """把考核结果工作簿的正式部分（汇总和各区得分表）转为PDF（需要LibreOffice）。"""
    from assess_xl.publish import documents as publish
    source = Path(scorecard)
    content = publish.own_scorecard(source)
    target = Path(out) if out else source.with_suffix(".pdf")
    if target.suffix.lower() != ".pdf":
        target = target.with_name(target.name + ".pdf")
    write_pdf(content, target)
    return EXIT_CLEAN
