"""`seal` (the year as one BagIt bundle) and `verify` (its manifests, then a re-run compared figure by figure)."""
from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from assess_xl import pipeline
from assess_xl import seal as seal_module
from assess_xl import year as year_module
from assess_xl.cli.chinese import ChineseCommand
from assess_xl.cli.collect import Run, run_options, write_seal, year_lock
from assess_xl.cli.errors import EXIT_CLEAN, EXIT_PROBLEMS, EXIT_USAGE, stop
from assess_xl.cli.output import console, print_nothing_filled, print_summary
from assess_xl.pipeline import Outcome
from assess_xl.problems import Code

SEAL_FILE = "封存包.zip"
SHOWN_DIFFERENCES = 200


@click.command("seal", cls=ChineseCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="文件或文件夹或年度文件夹...")
@click.option("-o", "--output", "out", default=None, type=click.Path(dir_okay=False), metavar="封存包.zip",
              help="封存包的保存路径（.zip）。给出年度文件夹时默认写入其“结果/封存包.zip”。")
@run_options
def seal_command(paths, out, rules_path, districts_spec, on_conflict, issuer, contacts_path, previous_path,
                 adjustments_path):
    """封存一个年度：按与 collect 相同的输入计分，把细则、收到的全部文件（含邮件和压缩包原件）、调整表、上年结果、
    考核结果和运行记录写成一个BagIt包（.zip）。"""
    run = Run(rules_path, districts_spec, on_conflict, issuer, contacts_path, previous_path, adjustments_path)
    year = year_module.given_year(paths)
    if year is None and not out:
        stop(Code.COLLECT_NO_OUTPUT)
    book = run.rulebook(year)
    target = Path(out) if out else year.results_dir / SEAL_FILE
    paths, options = run.inputs(paths, year, book, target)
    with year_lock(year):
        with console.status("正在读取和检查交回的文件……"):
            result = pipeline.collect(paths, book, options)
        pipeline.stop_unless_scored(result, target)
        if result.outcome is Outcome.NOTHING_FILLED:
            print_nothing_filled(result.read)
            return EXIT_PROBLEMS
        print_summary(result, book)  # the scorecard goes into the bundle only
        scorecard = {f"{book.year}年度考核结果.xlsx": result.content}
        write_seal(result, book, options, run.sealable(paths, year, scorecard, [target]), target)
    return EXIT_CLEAN if result.complete else EXIT_PROBLEMS


@click.command("verify", cls=ChineseCommand)
@click.argument("bundle", type=click.Path(exists=True), metavar="封存包")
def verify_command(bundle):
    """核验封存包（.zip 或解压后的文件夹）：检查清单中每个文件的SHA-256，再在新进程中只用包内文件重新计算，
    逐项比对记录的数值。全部一致时退出码为0，有不一致时为1，无法重新计算（不是封存包、由较新版本生成）时为2。"""
    with console.status("正在核验并重新计算……"):
        verdict = seal_module.verify(Path(bundle))
    for line in verdict.changed_files:
        console.print(f"[red]文件被改动[/] {escape(line)}")
    if verdict.refused:
        console.print(f"[red]无法重新计算：[/]{escape(verdict.refused)}")
    for line in verdict.differences[:SHOWN_DIFFERENCES]:
        console.print(f"[red]不一致[/] {escape(line)}")
    if len(verdict.differences) > SHOWN_DIFFERENCES:
        console.print(f"……另有{len(verdict.differences) - SHOWN_DIFFERENCES}处不一致。")
    if verdict.agrees:
        console.print("一致")
        return EXIT_CLEAN
    if verdict.refused:
        return EXIT_USAGE
    console.print(f"不一致：{len(verdict.changed_files)}个文件被改动，{len(verdict.differences)}处数值不同。")
    return EXIT_PROBLEMS
