"""The whole `collect` run as one library call: gather → read (in child processes) → merge → score →
explain → build the scorecard. Returns a typed result; prints nothing, writes nothing, never exits.
The command line and the benchmark both call `collect`."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import pandas as pd

from assess_xl.score import adjustments as adjustments_module
from assess_xl.read import merge
from assess_xl.xlsx import ownbooks
from assess_xl import problems
from assess_xl.publish import scorecard as report
from assess_xl.xlsx import sandbox
from assess_xl.score import robustness as robustness_module
from assess_xl.score import scoring
from assess_xl.score import previous as previous_module
from assess_xl.xlsx.layout import name_key
from assess_xl.read.merge import ReadResult
from assess_xl.read.form import OTHER_RULEBOOK, TOOL_OUTPUT, read_one
from assess_xl.rules.model import Rulebook
from assess_xl.score.scoring import Scores
from assess_xl.problems import Code
from assess_xl.read.dispatch import Reading
from assess_xl.run_options import start_reading
from assess_xl.run_options import CollectOptions as CollectOptions, Outcome as Outcome  # callers of the pipeline use them
from assess_xl.run_options import instant as instant, run_time as run_time


class RunError(problems.AssessError):
    """The run cannot go on (no reader process, nothing read, the output is an input); `problem` says why."""


@dataclass
class CollectResult:
    outcome: Outcome
    read: ReadResult
    scores: Scores | None = None
    explanations: pd.DataFrame | None = None
    content: bytes = b""  # the scorecard workbook
    gathered: int = 0
    notes: list[str] = field(default_factory=list)
    comparison: previous_module.Comparison | None = None  # with last year's scorecard, when given
    robustness: robustness_module.Robustness | None = None
    generated: datetime | None = None  # the run's time (what it read the clock as)

    @property
    def complete(self) -> bool:
        """No error and no 缺报: the run is clean."""
        errors = any(p.level == "错误" for p in self.read.problems)
        missing = self.scores is not None and int(self.scores.totals["缺报项数"].sum()) > 0
        return self.outcome is Outcome.WRITTEN and not errors and not missing


def read(paths, book: Rulebook, options: CollectOptions | None = None,
         reading: Reading | None = None) -> tuple[ReadResult, int]:
    """Gather and read the inputs (also what `status` needs), or take over a `reading` of them already
    started (run_options.start_reading); returns the result and how many files were found."""
    options = options or CollectOptions()
    reading = reading or start_reading(paths, book, options)
    reads, failures = reading.result()  # before the adjustments' own child: one set of children at a time
    sheets, adjustment_problems = _adjustment_sheets(options)
    excluded, exclusion_problems = adjustments_module.read_exclusions(sheets, options.adjustments_name)
    result = merge.merge_reads(reads, failures, reading.skipped, book, options.strict_conflicts, options.districts,
                               excluded)
    result = _with_problems(result, adjustment_problems + exclusion_problems)
    if options.known_senders is not None:
        result = _flag_unknown_senders(result, options.known_senders)
    if sheets:
        result = _apply_adjustments(result, sheets, book, options.adjustments_name)
    return result, len(reading.found)


def read_or_stop(paths, book: Rulebook, options: CollectOptions | None = None) -> ReadResult:
    """`read`, refusing (RunError) when a reader process could not start or no form of this rulebook was read."""
    result, _ = read(paths, book, options)
    if result.worker_failures:
        raise RunError(problems.make(Code.READ_WORKER_FAILED, files="、".join(result.worker_failures)))
    if not result.districts:
        raise RunError(problems.make(Code.READ_NOTHING, details=problem_lines(result, 10)))
    return result


def stop_unless_scored(result: CollectResult, output: Path | None) -> None:
    """Refuse (RunError) a run that must not write a scorecard: a reader process could not start, the
    output path is one of the returns, or no form of this rulebook was read."""
    if result.outcome is Outcome.WORKER_FAILED:
        raise RunError(problems.make(Code.COLLECT_WORKER_FAILED, files="、".join(result.read.worker_failures)))
    if result.outcome is Outcome.OUTPUT_IS_INPUT:
        raise RunError(problems.make(Code.COLLECT_OUTPUT_IS_INPUT, where=str(output)))
    if result.outcome is Outcome.NOTHING_READ:
        raise RunError(problems.make(Code.COLLECT_NOTHING_READ, details=problem_lines(result.read, 10)))


def problem_lines(result: ReadResult, limit: int) -> str:
    """The first problems and skipped files, one indented line each, for a message that stops a run."""
    lines = [f"\n  [{p.level}] {' '.join(x for x in (p.file, p.sheet, p.cell, p.district, p.code) if x)}：{p.message}"
             for p in result.problems[:limit]]
    lines += [f"\n  [跳过] {name}：{reason}" for name, reason, _ in result.skipped[:limit]]
    return "".join(lines)


def _with_problems(result: ReadResult, more: list[problems.Problem]) -> ReadResult:
    """A new result with `more` problems, all in the order 问题清单 shows them (`result`'s are in that order
    already, as merge gives them: with nothing more, it is `result` itself, not sorted again)."""
    if not more:
        return result
    return replace(result, problems=sorted([*result.problems, *more], key=problems.sort_key))


def _flag_unknown_senders(result: ReadResult, known: frozenset[str]) -> ReadResult:
    """Read, but say so in 来源 and 问题清单: a sender address is not proof of identity."""
    files, flagged = [], []
    for file_report in result.files:
        sender = file_report.info.sender
        if sender and sender not in known:
            problem = problems.make(Code.MAIL_UNKNOWN_SENDER, file=file_report.info.name, sender=sender)
            file_report = replace(file_report, reason="；".join(x for x in (file_report.reason, problem.message) if x))
            flagged.append(problem)
        files.append(file_report)
    return _with_problems(replace(result, files=files), flagged)


def _adjustment_sheets(options: CollectOptions) -> tuple[dict, list]:
    """The coordinator's adjustments workbook, parsed in a child like a return (it is untrusted bytes too)."""
    if options.adjustments is None:
        return {}, []
    try:
        return ownbooks.read(options.adjustments, options.adjustments_name), []
    except ownbooks.OwnWorkbookError as exc:
        return {}, [exc.problem]


def _apply_adjustments(result: ReadResult, sheets: dict, book: Rulebook, name: str) -> ReadResult:
    changes, change_problems = adjustments_module.read_changes(sheets, book, result.districts, name)
    values, winners, applied = adjustments_module.apply(result.values, result.winners, changes, book, name)
    return _with_problems(replace(result, values=values, winners=winners, adjustments=applied, adjustments_file=name),
                          change_problems)


def collect(paths, book: Rulebook, options: CollectOptions | None = None,
            reading: Reading | None = None) -> CollectResult:
    """The run; `reading` is the reading of `paths` when the caller started it (with these options)."""
    options = replace(options or CollectOptions())
    options.generated = options.generated or datetime.now()  # the run's one reading of the clock
    result, gathered = read(paths, book, options, reading)
    outcome = _blocking_outcome(result, options.output)
    if outcome is not None:
        return CollectResult(outcome, result, gathered=gathered)
    scores = scoring.score(result.values, book)
    explanations = adjustments_module.annotate(scoring.explain(result.values, book, scores, result.refused(book)),
                                               result.adjustments)
    comparison, result = _compare_with_previous(book, scores, result, options)
    robust = (functools.cache(functools.partial(robustness_module.assess, result.values, book, scores))
              if options.robustness else None)  # worked out while a child writes district sheets (report.build)
    content = report.build(book, scores, explanations, result, options.generated, options.issuer,
                           comparison, robust)
    return CollectResult(Outcome.WRITTEN, result, scores, explanations, content, gathered, comparison=comparison,
                         robustness=robust() if robust else None, generated=options.generated)


def _compare_with_previous(book: Rulebook, scores: Scores, result: ReadResult,
                           options: CollectOptions) -> tuple[previous_module.Comparison | None, ReadResult]:
    """The comparison with last year (None when not asked or not possible) and the result with what it found."""
    if options.previous is None:
        return None, result
    try:
        last = previous_module.read(ownbooks.read(options.previous, options.previous_name))
    except previous_module.PreviousError as exc:
        return None, replace(result, problems=[*result.problems, problems.make(exc.code, file=options.previous_name)])
    except ownbooks.OwnWorkbookError as exc:  # another kind of file, or one the pre-flight refused (and why)
        problem = (problems.make(Code.PREVIOUS_NOT_SCORECARD, file=options.previous_name)
                   if exc.not_a_workbook else exc.problem)
        return None, replace(result, problems=[*result.problems, problem])
    comparison = previous_module.compare(book, scores, result.values, result.winners, last,
                                         options.previous_name)
    return comparison, _with_problems(result, comparison.problems)


def signature(book: Rulebook, options: CollectOptions) -> report.Signature:
    return report.Signature(options.issuer or book.issuer, report.chinese_date(options.generated or datetime.now()))


def _blocking_outcome(result: ReadResult, output: Path | None) -> Outcome | None:
    if result.worker_failures:
        return Outcome.WORKER_FAILED
    if output is not None and _output_is_a_form(result, output):
        return Outcome.OUTPUT_IS_INPUT
    if not result.districts:
        return Outcome.NOTHING_READ
    if not result.anything_filled:
        return Outcome.NOTHING_FILLED
    return None


def _output_is_a_form(result: ReadResult, output: Path) -> bool:
    """The output path is one of the inputs and not a scorecard this tool wrote (which is replaced)."""
    target = os.path.realpath(output)
    return any(os.path.realpath(report.info.path) == target and report.status != TOOL_OUTPUT
               for report in result.files)


def refuse_foreign_forms(folder: Path, book: Rulebook, districts: list[str]) -> None:
    """A folder that already holds forms of other districts or another rulebook is not mixed into (RunError)."""
    if not folder.is_dir():
        return
    candidates = [(path, path.name) for path in sorted(folder.glob("*.xlsx")) if not path.name.startswith(("~$", "."))]
    clashes = foreign_forms(candidates, book, districts)
    if clashes:
        raise RunError(problems.make(Code.FORMS_FOLDER_FOREIGN, folder=str(folder), clashes="；".join(clashes)))


def foreign_forms(candidates: list[tuple[Path, str]], book: Rulebook, districts: list[str]) -> list[str]:
    """Which of these files are forms of another rulebook or another district list ('name（why）')."""
    wanted = [name_key(d) for d in districts]
    clashes = []
    for read in sandbox.run_isolated(read_one, [(str(path), name) for path, name in candidates], (book,)):
        if isinstance(read, sandbox.Failure) or read.meta is None and read.status != OTHER_RULEBOOK:
            continue
        if read.status == OTHER_RULEBOOK:
            clashes.append(f"{read.info.name}（另一份细则）")
        elif read.meta is not None and [name_key(d) for d in read.meta.districts or []] != wanted:
            clashes.append(f"{read.info.name}（区名单不同）")
    return clashes
