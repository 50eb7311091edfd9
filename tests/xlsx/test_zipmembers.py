"""A member read straight from the archive's bytes is what zipfile reads: the same bytes, or the same
exception (zipfile's own, which reads every member the straight way is not certain of)."""
from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given, settings, strategies as st

from assess_xl.xlsx import zipmembers


@pytest.fixture(autouse=True)
def _forget():
    zipmembers.forget()
    yield
    zipmembers.forget()


def _archive(members: list[tuple[str, bytes, int]], before: bytes = b"") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content, method in members:
            archive.writestr(name, content, compress_type=method)
    return before + out.getvalue()


def _zipfile_read(data: bytes, name: str, limit: int) -> bytes | str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        with archive.open(name) as stream:
            return stream.read(limit)
    except Exception as exc:  # noqa: BLE001  which exception is part of the answer compared
        return type(exc).__name__


def _straight_read(data: bytes, name: str, limit: int) -> bytes | str:
    try:
        return zipmembers.read(zipfile.ZipFile(io.BytesIO(data)), data, name, limit)
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__


def test_an_ordinary_member_is_read_without_zipfiles_reader(monkeypatch):
    data = _archive([("xl/worksheets/sheet1.xml", b"<worksheet/>" * 500, zipfile.ZIP_DEFLATED),
                     ("xl/styles.xml", b"<styleSheet/>", zipfile.ZIP_STORED)])
    archive = zipfile.ZipFile(io.BytesIO(data))
    monkeypatch.setattr(archive, "open", lambda *a, **k: pytest.fail("zipfile's reader was used"))
    assert zipmembers.read(archive, data, "xl/worksheets/sheet1.xml") == b"<worksheet/>" * 500
    assert zipmembers.read(archive, data, "xl/styles.xml", 65536) == b"<styleSheet/>"


def test_a_head_of_a_longer_member_is_zipfiles_head():
    content = bytes(range(256)) * 1000
    data = _archive([("a.xml", content, zipfile.ZIP_DEFLATED)])
    assert _straight_read(data, "a.xml", 65536) == content[:65536] == _zipfile_read(data, "a.xml", 65536)


@pytest.mark.parametrize("field,change", [
    (16, 1),  # checksum
    (20, 1), (20, -1), (20, 1000),  # compressed size
    (24, 1), (24, -1), (24, 1000),  # size
    (8, 0x1), (8, 0x20), (8, 0x40), (8, 0x8), (8, 0x800),  # flags (xor): encrypted, patch, strong, descriptor, UTF-8
    (10, 1), (10, 4),  # method: unknown, shrunk
])
@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_member_whose_directory_entry_lies_reads_as_zipfile_reads_it(field, change, method):
    data = bytearray(_archive([("xl/a.xml", b"<a>" + b"x" * 3000 + b"</a>", method), ("xl/b.xml", b"<b/>", method)]))
    entry = data.index(b"PK\x01\x02")
    size = 2 if field in (8, 10) else 4
    value = int.from_bytes(data[entry + field:entry + field + size], "little")
    value = value ^ change if field == 8 else (value + change) % (1 << 8 * size)
    data[entry + field:entry + field + size] = value.to_bytes(size, "little")
    for limit in (-1, 65536, 10):
        assert _straight_read(bytes(data), "xl/a.xml", limit) == _zipfile_read(bytes(data), "xl/a.xml", limit)


@pytest.mark.parametrize("offset,value", [(0, 0x50), (6, 0x01), (6, 0x08), (7, 0x08), (26, 3), (26, 40), (28, 5),
                                          (30, ord("X")), (40, 0xFF)])
def test_a_member_whose_local_header_lies_reads_as_zipfile_reads_it(offset, value):
    data = bytearray(_archive([("xl/a.xml", b"<a>" + b"y" * 500 + b"</a>", zipfile.ZIP_DEFLATED)]))
    data[offset] = value
    for limit in (-1, 65536):
        assert _straight_read(bytes(data), "xl/a.xml", limit) == _zipfile_read(bytes(data), "xl/a.xml", limit)


def test_bytes_before_the_archive_and_a_truncated_one():
    data = _archive([("a.xml", b"<a/>" * 100, zipfile.ZIP_DEFLATED)], before=b"junk" * 10)
    assert _straight_read(data, "a.xml", -1) == b"<a/>" * 100 == _zipfile_read(data, "a.xml", -1)
    whole = _archive([("a.xml", bytes(range(256)) * 50, zipfile.ZIP_DEFLATED)])
    directory = zipfile.ZipFile(io.BytesIO(whole))  # the directory as read before the bytes were cut
    for cut in (40, 200, 1000):
        short = whole[:cut]
        assert _straight_read_with(directory, short) == _zipfile_read_with(directory, short)


def _straight_read_with(archive: zipfile.ZipFile, source: bytes) -> bytes | str:
    archive.fp = io.BytesIO(source)
    try:
        return zipmembers.read(archive, source, "a.xml")
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__


def _zipfile_read_with(archive: zipfile.ZipFile, source: bytes) -> bytes | str:
    archive.fp = io.BytesIO(source)
    try:
        return archive.read("a.xml")
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__


def test_an_identical_member_is_inflated_once_and_a_lying_copy_is_not_served(monkeypatch):
    content = b"<sheet>" + b"z" * 4000 + b"</sheet>"
    first = _archive([("a.xml", content, zipfile.ZIP_DEFLATED)])
    assert zipmembers.read(zipfile.ZipFile(io.BytesIO(first)), first, "a.xml") == content
    second = _archive([("a.xml", content, zipfile.ZIP_DEFLATED)], before=b"x")
    inflated = []
    monkeypatch.setattr(zipmembers.zlib, "decompressobj", lambda *a: inflated.append(a))
    assert zipmembers.read(zipfile.ZipFile(io.BytesIO(second)), second, "a.xml") == content
    assert not inflated
    monkeypatch.undo()
    lying = bytearray(first)
    entry = lying.index(b"PK\x01\x02")
    lying[entry + 16] ^= 1  # the checksum in the directory
    assert _straight_read(bytes(lying), "a.xml", -1) == "BadZipFile" == _zipfile_read(bytes(lying), "a.xml", -1)


def test_what_is_kept_is_bounded(monkeypatch):
    monkeypatch.setattr(zipmembers, "MAX_CACHE_BYTES", 10_000)
    for n in range(20):
        data = _archive([("a.xml", bytes([n]) * 3000, zipfile.ZIP_DEFLATED)])
        zipmembers.read(zipfile.ZipFile(io.BytesIO(data)), data, "a.xml")
        assert zipmembers._cached_bytes <= 10_000
    big = _archive([("a.xml", b"b" * (zipmembers.MAX_KEPT_BYTES + 1), zipfile.ZIP_DEFLATED)])
    zipmembers.forget()
    zipmembers.read(zipfile.ZipFile(io.BytesIO(big)), big, "a.xml")
    assert not zipmembers._inflated_before


@settings(max_examples=300, deadline=None)
@given(content=st.binary(max_size=3000) | st.sampled_from([b"", b"<a/>" * 300]),
       method=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
       spot=st.integers(0, 10_000), value=st.integers(0, 255), limit=st.sampled_from([-1, 65536, 100]))
def test_any_member_with_any_byte_changed_reads_as_zipfile_reads_it(content, method, spot, value, limit):
    data = bytearray(_archive([("xl/worksheets/sheet1.xml", content, method), ("b.xml", content[::-1], method)]))
    data[spot % len(data)] = value
    for name in ("xl/worksheets/sheet1.xml", "b.xml"):
        assert _straight_read(bytes(data), name, limit) == _zipfile_read(bytes(data), name, limit)
