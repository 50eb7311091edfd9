"""A zip member's bytes as zipfile reads them, taken straight from the archive's bytes where that is certain
to give zipfile's answer: the pre-flight reads every XML part of every workbook, and zipfile's per-member
objects (a shared file, a reader object, a decompressor fed in rounds) cost more than inflating a small part.
A member is taken straight only when ZipFile.open would accept its local header (signature, the central
directory's name, no encryption or patch flag) and it is stored, or deflated as one complete stream, with exactly
its declared size and checksum: then zipfile, which reads the same bytes with the same decompressor and checks
the same checksum, returns the same bytes. Anything else is read by zipfile, which then says what is wrong.
Identical members (the same compressed bytes, method, size and checksum) are inflated once per process."""
from __future__ import annotations

import struct
import zipfile
import zlib

_LOCAL_HEADER = struct.Struct("<4s2xH18xHH")  # signature, flags; name and extra field lengths (30 bytes)
_LOCAL_SIGNATURE = b"PK\x03\x04"
_REFUSED_FLAGS = 0x1 | 0x20 | 0x40  # encrypted, compressed patch data, strong encryption: open() refuses them
_UTF8_NAME = 0x800

# Members inflated before, by what decides their bytes: (method, size, checksum, compressed bytes) → bytes. Kept
# for members of at most MAX_KEPT_BYTES; cleared when the bytes kept would pass MAX_CACHE_BYTES.
MAX_KEPT_BYTES = 256 * 1024
MAX_CACHE_BYTES = 16 * 1024 * 1024
_inflated_before: dict[tuple[int, int, int, bytes], bytes] = {}
_cached_bytes = 0


def read(archive: zipfile.ZipFile, source: bytes, name: str, limit: int = -1) -> bytes:
    """`archive.open(name).read(limit)` (the whole member when `limit` is negative) of the archive whose bytes
    are `source`: the same bytes, or the same exception, as zipfile gives."""
    info = archive.getinfo(name)
    if limit < 0 or info.file_size <= limit:  # read to the end: the checksum is checked
        compressed = _compressed(archive, source, info)
        if compressed is not None:
            content = _content(info, compressed)
            if content is not None:
                return content
    with archive.open(info) as stream:
        return stream.read(limit)


def _compressed(archive: zipfile.ZipFile, source: bytes, info: zipfile.ZipInfo) -> bytes | None:
    """The member's compressed bytes, after a local header that ZipFile.open accepts; None where open might
    refuse the member or read other bytes (a method other than stored or deflated, a flag it refuses, a header it
    rejects, bytes past the end of the archive or of the member's own span)."""
    if info.flag_bits & _REFUSED_FLAGS or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return None
    start = info.header_offset
    if start < 0 or start + _LOCAL_HEADER.size > len(source):
        return None
    signature, flags, name_length, extra_length = _LOCAL_HEADER.unpack_from(source, start)
    name_start = start + _LOCAL_HEADER.size
    name = _name(source[name_start:name_start + name_length],
                 "utf-8" if flags & _UTF8_NAME else (getattr(archive, "metadata_encoding", None) or "cp437"))
    begin = name_start + name_length + extra_length
    end = begin + info.compress_size
    span_end = getattr(info, "_end_offset", None)  # where later Pythons refuse overlapping members
    if signature != _LOCAL_SIGNATURE or name != info.orig_filename or end > len(source) or (
            span_end is not None and end > span_end):
        return None
    return source[begin:end]


def _name(raw: bytes, encoding: str) -> str | None:
    """A local header's member name as ZipFile.open decodes it (an ASCII name reads the same in UTF-8 and cp437,
    without cp437's codec written in Python); None where it cannot be decoded."""
    if raw.isascii() and encoding in ("utf-8", "cp437"):
        return raw.decode("ascii")
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        return None


def _content(info: zipfile.ZipInfo, compressed: bytes) -> bytes | None:
    """The member's bytes when they come out with exactly its declared size and checksum (deflated: one stream
    that ends, inflating no further than the size); None for anything else."""
    key = (info.compress_type, info.file_size, info.CRC, compressed)
    content = _inflated_before.get(key)
    if content is not None:
        return content
    if info.compress_type == zipfile.ZIP_STORED:
        content = compressed if len(compressed) == info.file_size else None
    else:
        inflater = zlib.decompressobj(-15)
        try:
            content = inflater.decompress(compressed, info.file_size + 1)
        except zlib.error:
            return None
        if not inflater.eof or len(content) != info.file_size:
            return None
    if content is None or zlib.crc32(content) != info.CRC:
        return None
    _keep(key, content)
    return content


def _keep(key: tuple[int, int, int, bytes], content: bytes) -> None:
    global _cached_bytes
    size = len(content) + len(key[3])
    if len(content) > MAX_KEPT_BYTES:
        return
    if _cached_bytes + size > MAX_CACHE_BYTES:
        _inflated_before.clear()
        _cached_bytes = 0
    _inflated_before[key] = content
    _cached_bytes += size


def forget() -> None:
    """Drop the members inflated before (for measurements and tests)."""
    global _cached_bytes
    _inflated_before.clear()
    _cached_bytes = 0
