"""What a gathered file is read as, one sandboxed unit at a time. A workbook is one unit. A mailbox
(an .mbox, or an .eml that holds several messages) is split into its messages, and a message, an
Outlook message or a zip into its workbook attachments; each message and each attachment is then read
in a unit of its own, so whatever one of them does to a parser (recursion, abort, hang) is its own
verdict and every other sender's return is still read. Runs in the reader's child (sandbox); the
main process only passes units (paths, offsets, indexes), never bytes."""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from assess_xl.read import gather

from assess_xl import problems as P
from assess_xl.read.form import NOT_A_FORM, READ, REJECTED, FileRead, read_loaded
from assess_xl.rules.model import Rulebook
from assess_xl.problems import Code

if TYPE_CHECKING:
    from assess_xl.read import mail

# The mail reader (and the email package under it) is imported where a container is read, in a child, which has
# it from the fork server already (sandbox.PRELOAD): the run's own process, which only hands units out, needs neither.

MAX_NAMED = 20  # message numbers listed in one problem
CONTAINERS = ("eml", "msg", "zip", "message")  # units that may hold one workbook, read in the same child


@dataclass(frozen=True)
class Unit:
    path: str
    name: str  # as shown: box.mbox, box.mbox#3, box.mbox#3 › 办公室.xlsx
    kind: str  # file; eml, msg, mbox, zip (a whole container); message (one of a mailbox); part
    order: tuple[int, ...] = ()  # where its reads go among all reads (file, message, part)
    span: tuple[int, int] | None = None  # (offset, length) of a mailbox message
    container: str = ""  # of a part: eml, msg or zip, and the name that container is shown under
    within: str = ""
    index: int = -1  # of a part: which one, and its SHA-256 as first seen
    sha256: str = ""
    apart: bool = False  # a container whose only workbook must be read in a unit of its own (see read_unit)


@dataclass(frozen=True)
class Split:
    """A container's units to read next, the verdicts found while splitting it, and the messages of
    a mailbox that hold no workbook (mailbox name, message number), reported together."""
    units: list[Unit] = field(default_factory=list)
    reads: list[FileRead] = field(default_factory=list)
    quiet: list[tuple[str, str, int]] = field(default_factory=list)  # (path, mailbox, number)


def read_unit(unit: Unit, book: Rulebook, now: datetime | None = None, run: str = "") -> list[FileRead] | Split:
    """One unit, in a child: a workbook's reads, or how a container splits. `now` is the run's time
    (what a plausible file, saved or sent time may not exceed); `run` names the run, whose units' orders
    can be compared (see _read_file)."""
    if unit.kind == "file":
        return [_read_file(unit, book, now, run)]
    import python_calamine  # noqa: F401  an ImportError here is the machine's fault, not the file's
    from assess_xl.read import mail
    container = gather.load(unit.path, unit.name, gather.MAX_CONTAINER_BYTES, unit.span, now)
    if container.rejected:
        return [verdict(container, P.code_of(container.rejected_code), {})]
    if unit.kind in ("mbox", "eml") and (unit.kind == "mbox" or mail.is_mailbox(container.data)):
        return _split_mailbox(unit, container.data, now)
    if unit.kind == "part":
        return [_read_part(unit, container, book, now)]
    kind = "eml" if unit.kind == "message" else unit.kind
    try:
        unpacked = mail.unpack(kind, container.data, unit.name, now)
    except RecursionError:  # the email package recurses over nested parts
        return [verdict(container, Code.MAIL_NESTED_TOO_DEEP, {})]
    reads = [verdict(gather.FileInfo(container.path, shown, modified=container.modified), code, fields)
             for shown, code, fields in unpacked.verdicts]
    if unit.kind == "message" and not unpacked.parts and [v[1] for v in unpacked.verdicts] == [Code.MAIL_NO_WORKBOOK]:
        mailbox, number = unit.name.rsplit("#", 1)
        return Split(quiet=[(unit.path, mailbox, int(number))])
    parts = [Unit(unit.path, part.name, "part", (*unit.order, index), unit.span, kind, unit.name, index,
                  hashlib.sha256(part.data).hexdigest()) for index, part in enumerate(unpacked.parts)]
    if len(parts) == 1 and not unit.apart:  # its one workbook read here, not unpacked again in a unit of its own
        return [*reads, _read_attachment(unpacked.parts[0], parts[0].sha256, container, book, now)]
    return Split(parts, reads)


MAX_CONTENTS = 10_000  # contents remembered by one child (a SHA-256 and a few fields each)
# The run they belong to, and SHA-256 → (order, verdict without sheets) of each workbook the child read whole in
# it for a file whose read found a form.
_CONTENTS: tuple[str, dict[str, tuple[tuple[int, ...], FileRead]]] = ("", {})


def _read_file(unit: Unit, book: Rulebook, now: datetime | None, run: str) -> FileRead:
    """A workbook unit's read. A copy of a workbook this child already read in this run for a file given
    before it (the same bytes: a department that sent the same file twice) is not parsed again: the run
    counts a copy only as a duplicate of the first file (merge drops its sheets and problems), so its read
    is the earlier one's verdict with its own details."""
    import python_calamine  # noqa: F401  an ImportError here is the machine's fault, not the file's
    info = gather.load(unit.path, unit.name, now=now)
    contents = _contents_of(run)
    earlier = contents.get(info.sha256) if info.sha256 and run else None
    if earlier is not None and earlier[0] < unit.order:
        return _copy_of(earlier[1], info)
    read = read_loaded(info, book, now)
    if run and info.sha256 and read.status == READ and not read.reason:
        if len(contents) >= MAX_CONTENTS:
            contents.clear()
        contents.setdefault(info.sha256, (unit.order, FileRead(read.info, read.status, read.reason)))
    return read


def _contents_of(run: str) -> dict[str, tuple[tuple[int, ...], FileRead]]:
    """What this child remembers of the contents it read in `run` (forgetting another run's)."""
    global _CONTENTS
    if _CONTENTS[0] != run:
        _CONTENTS = (run, {})
    return _CONTENTS[1]


def _copy_of(earlier: FileRead, info: gather.FileInfo) -> FileRead:
    """The read of a file whose bytes are those of `earlier`: what the pre-flight found in the bytes is the
    same, where and when the file was found are its own; sheets and problems are left out, as the run keeps
    only the earlier file's (merge drops a duplicate's)."""
    seen = earlier.info
    same = replace(info, data=b"", format=seen.format, macros=seen.macros, saved=seen.saved,
                   saved_ignored=seen.saved_ignored, error_cells=seen.error_cells, formula_cells=seen.formula_cells)
    return FileRead(same, earlier.status, earlier.reason)


def again_apart(unit: Unit) -> Unit | None:
    """A container unit that failed (its child died, overran or raised), to be read again with its workbook
    in a unit of its own, so that the verdict names the attachment as before; None for other units."""
    return replace(unit, apart=True) if unit.kind in CONTAINERS and not unit.apart else None


def _split_mailbox(unit: Unit, data: bytes, now: datetime | None) -> Split:
    """One unit per message (at most MAX_MESSAGES, chosen and reported by mail.choose)."""
    from assess_xl.read import mail
    spans = mail.messages(data)
    kept, dropped = mail.choose(data, spans, now=now)
    units = [Unit(unit.path, f"{unit.name}#{i + 1}", "message", (*unit.order, i),
                  spans[i]) for i in kept]
    reads = []
    if dropped:
        attached = sum(mail.preference(data[spans[i][0]:sum(spans[i])], now)[0] for i in dropped)
        fields = {"count": len(spans), "limit": len(kept), "skipped": len(dropped), "attached": attached,
                  "numbers": numbers([i + 1 for i in dropped])}
        reads.append(verdict(gather.FileInfo(Path(unit.path), unit.name), Code.MAIL_TOO_MANY_MESSAGES, fields))
    return Split(units, reads)


def _read_part(unit: Unit, container: gather.FileInfo, book: Rulebook, now: datetime | None) -> FileRead:
    """The `index`th workbook of a message, Outlook message or zip, unpacked again here."""
    from assess_xl.read import mail
    parts = mail.unpack(unit.container, container.data, unit.within, now).parts
    part = parts[unit.index] if unit.index < len(parts) else None
    if part is None or hashlib.sha256(part.data).hexdigest() != unit.sha256:
        return verdict(gather.FileInfo(container.path, unit.name), Code.PART_CHANGED, {})
    return _read_attachment(part, unit.sha256, container, book, now)


def _read_attachment(part: mail.Part, sha256: str, container: gather.FileInfo, book: Rulebook,
                     now: datetime | None) -> FileRead:
    from email.utils import parseaddr
    info = gather.FileInfo(container.path, part.name, modified=container.modified, data=part.data,
                           size=len(part.data), sha256=sha256, mailed=part.envelope.date,
                           received=part.envelope.received,
                           envelope=part.envelope.describe(), sender=parseaddr(part.envelope.sender)[1].lower())
    return read_loaded(info, book, now)


def verdict(info: gather.FileInfo, code: Code, fields: dict[str, Any]) -> FileRead:
    """A container's or attachment's verdict from the catalogue (an error rejects it)."""
    status = NOT_A_FORM if code.level != P.ERROR else REJECTED
    return FileRead(info, status, P.text(code, **fields), [P.make(code, file=info.name, **fields)])


def numbers(items: list[int]) -> str:
    """Message numbers as a person reads them: #1、#2… (the first MAX_NAMED, then how many more)."""
    shown = "、".join(f"#{n}" for n in items[:MAX_NAMED])
    return shown + (f"等{len(items)}封" if len(items) > MAX_NAMED else "")


def quiet_messages(quiet: list[tuple[str, str, int]]) -> list[FileRead]:
    """One row per mailbox for its messages without a workbook (spam, replies), not one per message."""
    by_mailbox: dict[tuple[str, str], list[int]] = {}
    for path, mailbox, number in quiet:
        by_mailbox.setdefault((path, mailbox), []).append(number)
    return [verdict(gather.FileInfo(Path(path), mailbox), Code.MAILBOX_NO_WORKBOOK,
                    {"count": len(found), "numbers": numbers(sorted(found))})
            for (path, mailbox), found in by_mailbox.items()]
