"""Parts of a workbook deflated on another thread while this one assembles the next parts: zlib lets go of
the interpreter lock while it compresses, so on a second core the zip's compression (a seventh of saving a
large scorecard) overlaps the assembly of the sheets' XML. The zip holds the same bytes as when zipfile
compresses each part itself: the same compressor, fed the same way, and each part's header written as
zipfile writes it once the part is done."""
from __future__ import annotations

import queue
import threading
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import xlsxwriter.workbook


class Deflated(bytes):
    """A part's compressed bytes, with the CRC and size of what was compressed."""
    crc: int
    size: int


def deflated(data: bytes) -> Deflated:
    """`data` compressed as zipfile compresses a part at the default level."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)  # as zipfile's
    result = Deflated(compressor.compress(data) + compressor.flush())
    result.crc, result.size = zlib.crc32(data), len(data)
    return result


def inflated(data: bytes) -> bytes:
    """A part's own bytes, whether it is held deflated or not."""
    return zlib.decompress(data, -15) if isinstance(data, Deflated) else data


class Pending:
    """A part being deflated: `getvalue()` waits for it (the zip asks for each part in turn)."""

    def __init__(self, data: bytes) -> None:
        self.data: bytes | None = data
        self.done = threading.Event()
        self.result: Deflated | None = None
        self.error: BaseException | None = None

    @classmethod
    def ready(cls, part: Deflated) -> Pending:
        """A part deflated already (by another process)."""
        pending = cls(b"")
        pending.data, pending.result = None, part
        pending.done.set()
        return pending

    def getvalue(self) -> Deflated:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

    def deflate(self) -> None:
        try:
            assert self.data is not None
            self.result = deflated(self.data)
        except BaseException as exc:  # noqa: B036  handed to the thread that waits for the part
            self.error = exc
        finally:
            self.data = None
            self.done.set()


class Deflater:
    """One thread deflating parts in the order they are given."""

    def __init__(self) -> None:
        self.parts: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="deflate", daemon=True)
        self.thread.start()

    def submit(self, data: bytes) -> Pending:
        """`data` to deflate, after the parts submitted before it; a part deflated already is taken as it is."""
        if isinstance(data, Deflated):
            return Pending.ready(data)
        part = Pending(data)
        self.parts.put(part)
        return part

    def _run(self) -> None:
        while (part := self.parts.get()) is not None:
            part.deflate()

    def stop(self) -> None:
        self.parts.put(None)
        self.thread.join()


class HouseZipFile(zipfile.ZipFile):
    """zipfile's writer taking a Deflated part as it is (compressed already); any other part as zipfile does."""

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None) -> None:  # type: ignore[no-untyped-def]
        if isinstance(data, Deflated) and self._takes_as_it_is(zinfo_or_arcname, data) and not (compress_type or compresslevel):
            self._write_deflated(zinfo_or_arcname, data)
            return
        super().writestr(zinfo_or_arcname, inflated(data), compress_type, compresslevel)

    def _takes_as_it_is(self, zinfo: object, data: Deflated) -> bool:
        """A deflated entry at the default level, on a file it can go back in, short of ZIP64's sizes."""
        archive: Any = self  # zipfile's own state (private attributes)
        return (isinstance(zinfo, zipfile.ZipInfo) and zinfo.compress_type == zipfile.ZIP_DEFLATED
                and getattr(zinfo, "_compresslevel", None) is None and archive._seekable
                and data.size * 1.05 <= zipfile.ZIP64_LIMIT)

    def _write_deflated(self, zinfo: zipfile.ZipInfo, data: Deflated) -> None:
        """What writestr does for a part on a seekable file, its header written once with the final sizes."""
        archive: Any = self  # zipfile's own state (private attributes), set as its writestr sets it
        if archive._writing:
            raise ValueError("Can't write to ZIP archive while an open writing handle exists.")
        zinfo.file_size, zinfo.compress_size, zinfo.CRC = data.size, len(data), data.crc
        zinfo.flag_bits = 0
        if not zinfo.external_attr:
            zinfo.external_attr = 0o600 << 16
        with archive._lock:
            archive.fp.seek(archive.start_dir)
            zinfo.header_offset = archive.fp.tell()
            archive._writecheck(zinfo)
            archive._didModify = True
            archive.fp.write(zinfo.FileHeader(False))
            archive.fp.write(data)
            archive.filelist.append(zinfo)
            archive.NameToInfo[zinfo.filename] = zinfo
            archive.start_dir = archive.fp.tell()


# xlsxwriter's ZipFile is one name for the whole process: one save at a time may replace it, or a save that
# ended first would put zipfile's back under another still making its zip (whose deflated parts zipfile
# would then compress again: a workbook that opens to garbage). The console's threads can save at once.
_ZIPFILE_REPLACED = threading.Lock()


@contextmanager
def deflating() -> Iterator[Deflater]:
    """A deflating thread, and xlsxwriter's workbooks zipped by HouseZipFile meanwhile (xlsxwriter makes its
    ZipFile itself; HouseZipFile zips any other part as ZipFile does, so a workbook saved meanwhile on
    another thread comes out the same). Another thread's `deflating()` waits until this one has ended."""
    with _ZIPFILE_REPLACED:
        deflater = Deflater()
        xlsxwriter.workbook.ZipFile = HouseZipFile
        try:
            yield deflater
        finally:
            xlsxwriter.workbook.ZipFile = zipfile.ZipFile
            deflater.stop()
