"""Workbook parts deflated on another thread (xlsx.deflate): the zip's bytes are those zipfile writes."""
import io
import os
import threading
import zipfile
from datetime import datetime

import pytest
import xlsxwriter.workbook

from assess_xl.xlsx import deflate
from assess_xl.xlsx.style import MemoryWorkbook, styles, usable_cores

PARTS = [("a.xml", b""), ("b/c.xml", bytes(range(256)) * 40), ("d.xml", "<x>数据</x>".encode() * 100_000), ("e", b"x" * 5)]


def zipped(parts, deflater=None) -> bytes:
    buffer = io.BytesIO()
    kind = zipfile.ZipFile if deflater is None else deflate.HouseZipFile
    with kind(buffer, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for name, data in parts:
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.compress_type = archive.compression
            archive.writestr(info, data if deflater is None else deflater.submit(data).getvalue())
    return buffer.getvalue()


def test_deflated_parts_zip_to_the_same_bytes():
    with deflate.deflating() as deflater:
        assert zipped(PARTS, deflater) == zipped(PARTS)
    with zipfile.ZipFile(io.BytesIO(zipped(PARTS))) as archive:
        assert archive.testzip() is None and archive.read("d.xml") == PARTS[2][1]


def test_a_deflated_part_in_another_kind_of_entry_is_written_plainly():
    """A part compressed otherwise than deflated by name is unpacked and written as zipfile writes it."""
    with deflate.deflating() as deflater:
        part = deflater.submit(b"abc" * 1000).getvalue()
        buffer = io.BytesIO()
        with deflate.HouseZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(zipfile.ZipInfo("s.xml"), part)
        with zipfile.ZipFile(buffer) as archive:
            assert archive.read("s.xml") == b"abc" * 1000 and archive.getinfo("s.xml").compress_type == zipfile.ZIP_STORED


def test_zipfile_restored_and_thread_gone_after_a_failure():
    with pytest.raises(KeyError):
        with deflate.deflating() as deflater:
            assert xlsxwriter.workbook.ZipFile is deflate.HouseZipFile
            raise KeyError("x")
    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile and not deflater.thread.is_alive()


def test_a_failing_part_raises_where_it_is_waited_for():
    with deflate.deflating() as deflater:
        part = deflater.submit(12345)  # not bytes: zlib refuses it on the deflating thread
        with pytest.raises(TypeError):
            part.getvalue()


def workbook_bytes() -> bytes:
    workbook = MemoryWorkbook()
    workbook.set_properties({"created": datetime(2008, 1, 5)})
    look = styles(workbook)
    for n in range(5):
        ws = workbook.add_worksheet(f"第{n}张")
        for row in range(200):
            ws.write_string(row, 0, f"第{n}张第{row}行", look["text"])
            ws.write_number(row, 1, row / 7, look["score"])
    return workbook.content()


def test_workbook_the_same_on_one_core(monkeypatch):
    if usable_cores() < 2:
        pytest.skip("needs two cores")
    submitted = []
    submit = deflate.Deflater.submit
    monkeypatch.setattr(deflate.Deflater, "submit", lambda self, data: submitted.append(1) or submit(self, data))
    two = workbook_bytes()
    assert len(submitted) == 5
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert workbook_bytes() == two and len(submitted) == 5


def test_a_second_thread_saving_waits_until_the_first_has_put_zipfile_back():
    """Two saves at once (the console's threads): the second replaces xlsxwriter's ZipFile only after the first
    has restored it, so neither zips with the other's ZipFile."""
    seen = []

    def second_save():
        with deflate.deflating():
            seen.append("second in")

    with deflate.deflating():
        other = threading.Thread(target=second_save)
        other.start()
        other.join(0.3)
        seen.append("first out")
        assert xlsxwriter.workbook.ZipFile is deflate.HouseZipFile
    other.join(10)
    assert seen == ["first out", "second in"]
    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile


def test_workbooks_saved_by_two_threads_at_once_are_the_bytes_of_one(monkeypatch):
    one = workbook_bytes()
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.extend(workbook_bytes() for _ in range(5))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [one] * 10


def test_usable_cores_where_the_system_keeps_no_affinity(monkeypatch):
    """macOS and Windows have no os.sched_getaffinity: the machine's count, and a workbook is still saved."""
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert usable_cores() == 4
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert usable_cores() == 1
    assert zipfile.ZipFile(io.BytesIO(workbook_bytes())).testzip() is None


def test_a_part_deflated_already_is_zipped_as_it_is():
    """A part another process deflated (a district sheet written beside) goes into the zip as it came."""
    with deflate.deflating() as deflater:
        given = [(name, deflate.deflated(data) if n % 2 else data) for n, (name, data) in enumerate(PARTS)]
        assert zipped(given, deflater) == zipped(PARTS)
    assert deflate.inflated(deflate.deflated(PARTS[2][1])) == PARTS[2][1]
    assert deflate.inflated(PARTS[2][1]) is PARTS[2][1]
