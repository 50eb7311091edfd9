"""What the console holds between requests: the open year, its last run (kept while nothing it read has
changed), the running job, and messages to show once."""
from __future__ import annotations

from dataclasses import dataclass, field


from assess_xl.rules import load as rulebook_load

from assess_xl import year as year_module

from assess_xl import problems as P
from assess_xl import yearwork
from assess_xl.pipeline import CollectResult
from assess_xl.rules.model import Rulebook
from assess_xl.year import Year
from .guard import Secrets
from .jobs import Job, Jobs


@dataclass
class Flash:
    level: str  # ok, warn, error
    text: str


@dataclass
class Console:
    """What the console holds between requests. One coordinator, one year at a time."""
    year: Year | None
    keys: Secrets
    jobs: Jobs = field(default_factory=Jobs)
    flashes: list[Flash] = field(default_factory=list)
    replay: object = None  # the last replay under another rulebook, shown on 细则
    _run: tuple[tuple, CollectResult] | None = None
    _derived: dict = field(default_factory=dict)  # what pages compute from the current run, once per run
    _book: tuple[tuple, Rulebook] | None = None

    def flash(self, text: str, level: str = "ok") -> None:
        self.flashes.append(Flash(level, text))

    def take_flashes(self) -> list[Flash]:
        shown, self.flashes = self.flashes, []
        return shown

    def forget(self) -> None:
        """Another year was opened: nothing of the last one holds."""
        self._run, self._book, self.replay = None, None, None

    def the_year(self) -> Year:
        assert self.year is not None, "pages of a year are only routed when a year is open"
        return self.year

    def book(self) -> Rulebook:
        """The year's rulebook, loaded again when its file changed (raises RulebookError)."""
        year = self.the_year()
        path = year.rulebook_path
        key = (str(path), path.stat().st_mtime_ns if path else 0)
        if self._book is None or self._book[0] != key:
            self._book = (key, rulebook_load.load(path))
        return self._book[1]

    def run(self) -> CollectResult | None:
        """The last run, if nothing it read has changed since."""
        if self._run is not None and self._run[0] == year_module.fingerprint(self.the_year()):
            return self._run[1]
        return None

    def refresh(self, job: Job) -> None:
        year = self.the_year()
        stamp = year_module.fingerprint(year)
        book = self.book()
        result = yearwork.run(year, book, job.say)
        self._run, self._derived = (stamp, result), {}
        if result.read.districts:
            job.say("正在整理各部门的填报情况和各区的得分说明……")
            self.board(book, result)
            self.reported(book, result)

    def derived(self, name: str, result: CollectResult, compute):
        """`compute()` once per run: a page shown again does not compute it again."""
        key = (name, id(result))
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    def reported(self, book: Rulebook, result: CollectResult) -> dict:
        return self.derived("reported", result, lambda: yearwork.reported(book, result))

    def board(self, book: Rulebook, result: CollectResult) -> yearwork.Board:
        return self.derived("board", result, lambda: yearwork.board(book, result.read))

    def robustness(self, book: Rulebook, result: CollectResult) -> list[list[object]]:
        """排名稳健性 as the scorecard's sheet has it (the run's own assessment, or made once for this run)."""
        rows: list[list[object]] = self.derived("robustness", result, lambda: yearwork.robustness_rows(book, result))
        return rows

    def start(self, title: str, then: str, work) -> Job:
        return self.jobs.start(title, then, work, error_text)


def error_text(exc: Exception) -> str:
    """The Chinese line a failed job ends with."""
    if isinstance(exc, P.AssessError):  # any refusal of the library (rulebook, year, publishing, mail server…)
        return exc.line
    messages = getattr(exc, "messages", None)
    if messages:
        return "；".join(messages)
    return f"操作未完成（{type(exc).__name__}）。请查看文件后重试。"


