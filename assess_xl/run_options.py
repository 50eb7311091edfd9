"""What a `collect` run is given and how it can end, and the start of its reading: everything a caller needs
before the pipeline itself, which imports pandas (the command line reads the returns meanwhile)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:
    from assess_xl.read.dispatch import Reading
    from assess_xl.read.form import FileRead
    from assess_xl.rules.model import Rulebook

ADJUSTMENTS_FILE = "调整表"  # the adjustments workbook's name in messages, when no file name is known


class Outcome(str, Enum):
    WRITTEN = "written"  # a scorecard was built
    NOTHING_READ = "nothing_read"  # no form of this rulebook among the inputs
    NOTHING_FILLED = "nothing_filled"  # forms, but every input cell blank
    WORKER_FAILED = "worker_failed"  # the machine could not start a reader: results would be wrong
    OUTPUT_IS_INPUT = "output_is_input"  # the output path is a returned form


@dataclass
class CollectOptions:
    strict_conflicts: bool = False
    districts: list[str] | None = None  # the run's districts, when the coordinator gives them
    output: Path | None = None  # where the scorecard will go (to recognise it among the inputs)
    workers: int | None = None
    generated: datetime | None = None
    issuer: str | None = None  # the issuing unit printed on the result; the rulebook's when not given
    adjustments: bytes | None = None  # the coordinator's adjustments workbook (复核、更正), applied last
    adjustments_name: str = ADJUSTMENTS_FILE
    previous: bytes | None = None  # last year's scorecard, to compare with
    known_senders: frozenset[str] | None = None  # the contacts' addresses: mail from others is flagged
    previous_name: str = "上年考核结果"
    robustness: bool = True  # how firm each rank is (排名稳健性): in the terminal and the scorecard
    on_read: Callable[[FileRead], None] | None = None  # told of each file's read verdict as soon as it is known


def run_time(options: CollectOptions) -> datetime:
    """The run's time as an instant: what a plausible saved, file or sent time may not exceed. Read from the
    clock once per run (`generated`); a re-run of a sealed year passes the recorded one."""
    return instant(options.generated or datetime.now())


def instant(moment: datetime) -> datetime:
    """A time with its zone (a naive one is local time)."""
    return moment if moment.tzinfo else moment.astimezone()


def start_reading(paths: Sequence[str | Path], book: Rulebook, options: CollectOptions, ahead: bool = False) -> Reading:
    """Gather `paths` and read them in the sandbox's children, at the run's time; with `ahead` the reading
    goes on while the caller does something else (pipeline.collect takes it over). The run's time is
    fixed here if it was not given, so that the reading and the rest of the run share it."""
    from assess_xl.read.dispatch import Reading
    options.generated = options.generated or datetime.now()
    return Reading(paths, book, options.workers, run_time(options), options.on_read, ahead)
