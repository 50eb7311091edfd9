"""The coordinator's own workbooks (the adjustments workbook, last year's scorecard, the contacts
workbook, a rulebook workbook) are untrusted bytes too: read through the same door as returns, in a
sandboxed child after the pre-flight, so a crafted file is a clear message, never a dead process."""
from __future__ import annotations

from pathlib import Path

from assess_xl import problems as P
from assess_xl.xlsx import preflight, sandbox
from assess_xl.xlsx.parse import SheetData, SheetTooLarge, parse_workbook
from assess_xl.problems import Code

_FAILURES = {"crash": Code.PARSE_CRASH, "timeout": Code.PARSE_TIMEOUT, "memory": Code.PARSE_MEMORY, "worker": Code.WORKER_FAILED}
NOT_A_WORKBOOK = {Code.EMPTY_FILE, Code.HTML, Code.XML_TEXT, Code.PDF, Code.EMPTY_ZIP, Code.NOT_A_WORKBOOK, Code.ZIP_NOT_EXCEL,
                  Code.OFFICE_NOT_EXCEL, Code.PARSE_ERROR}  # verdicts meaning "some other kind of file"


class OwnWorkbookError(P.AssessError):
    """The workbook could not be read: `problem` says why (catalogue message, with the file's name)."""

    @property
    def not_a_workbook(self) -> bool:
        return self.problem.kind in NOT_A_WORKBOOK


def read(source: Path | bytes, name: str) -> dict[str, SheetData]:
    """The sheets of one of the coordinator's workbooks (a path, or bytes already read), parsed in a
    child; raises OwnWorkbookError with the reason."""
    item = (source if isinstance(source, bytes) else str(source), name)
    (outcome,) = sandbox.run_isolated(parse_in_child, [item])
    if isinstance(outcome, sandbox.Failure):
        code = _FAILURES.get(outcome.kind, Code.PARSE_ERROR)
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
        return P.make(Code.SHEET_TOO_LARGE, file=name, sheet=big.sheet, rows=big.height, columns=big.width)
    except Exception as exc:  # calamine's own error types: the file is not a workbook we can read
        code = Code.ENCRYPTED if type(exc).__name__ == "PasswordError" else Code.PARSE_ERROR
        return P.make(code, file=name, kind=type(exc).__name__)

