"""The coordinator's own workbooks (the adjustments workbook, last year's scorecard, the contacts
workbook, a rulebook workbook) are untrusted bytes too: read through the same door as returns, in a
sandboxed child after the pre-flight, so a crafted file is a clear message, never a dead process."""
from __future__ import annotations

from pathlib import Path

from assess_xl import problems as P
from assess_xl.xlsx import preflight, sandbox
from assess_xl.xlsx.parse import SheetData, SheetTooLarge, parse_workbook

_FAILURES = {"crash": "parse_crash", "timeout": "parse_timeout", "memory": "parse_memory", "worker": "worker_failed"}
NOT_A_WORKBOOK = {"empty_file", "html", "xml_text", "pdf", "empty_zip", "not_a_workbook", "zip_not_excel",
                  "office_not_excel", "parse_error"}  # verdicts meaning "some other kind of file"


class OwnWorkbookError(Exception):
    """The workbook could not be read: `problem` says why (catalogue message, with the file's name)."""

    def __init__(self, problem: P.Problem):
        super().__init__(problem.message)
        self.problem = problem

    @property
    def not_a_workbook(self) -> bool:
        return self.problem.kind in NOT_A_WORKBOOK


def read(source: Path | bytes, name: str) -> dict[str, SheetData]:
    """The sheets of one of the coordinator's workbooks (a path, or bytes already read), parsed in a
    child; raises OwnWorkbookError with the reason."""
    item = (source if isinstance(source, bytes) else str(source), name)
    (outcome,) = sandbox.run_isolated(parse_in_child, [item])
    if isinstance(outcome, sandbox.Failure):
        code = _FAILURES.get(outcome.kind, "parse_error")
        raise OwnWorkbookError(P.make(code, file=name, kind=outcome.detail.split(":")[0],
                                      seconds=int(sandbox.TIME_LIMIT)))
    if isinstance(outcome, P.Problem):
        raise OwnWorkbookError(outcome)
    return outcome


def parse_in_child(item: tuple[str | bytes, str]) -> dict[str, SheetData] | P.Problem:
    """In the child: a bounded read, the pre-flight, then the parser; a verdict is returned as data."""
    source, name = item
    if isinstance(source, bytes):
        data = source
    else:
        read = preflight.read_bounded(source)
        if read.rejected:
            return read.problem(name)
        data = read.data
    verdict = preflight.check(data)
    if verdict.rejected:
        return verdict.problem(name)
    try:
        return parse_workbook(data)
    except SheetTooLarge as big:
        return P.make("sheet_too_large", file=name, sheet=big.sheet, rows=big.height, columns=big.width)
    except Exception as exc:  # calamine's own error types: the file is not a workbook we can read
        code = "encrypted" if type(exc).__name__ == "PasswordError" else "parse_error"
        return P.make(code, file=name, kind=type(exc).__name__)

