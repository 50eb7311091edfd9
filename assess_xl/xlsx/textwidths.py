"""Text measured in a font file's face through Pillow, and kept between runs in the user's cache folder
(`assess-xl/text-widths.json` under $XDG_CACHE_HOME, %LOCALAPPDATA% or ~/.cache).

Pillow lays out each string with FreeType and raqm, about 60 µs a call whatever its length (the shaper is set
up again for every call): a scorecard of ten districts asks for some 800 distinct pieces of text, the largest
first-time cost of writing it, and the same pieces (a rulebook's wording, '是否完成：是') recur in every run.
What a face measured before is taken from the cache instead, as the very float Pillow returned; anything not
there is measured and added when the process ends.

A face's entries hold only for the same file (path, face index, size, modification time, inode and device)
measured by the same Pillow, FreeType, raqm, FriBiDi and HarfBuzz: any other is measured afresh. A missing,
unreadable or damaged cache is measured afresh, and a cache that cannot be written is not kept."""
from __future__ import annotations

import atexit
import functools
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assess_xl import files

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont

FORMAT = 1
UNITS = 1000  # the faces are measured at 1000 units per em
CACHE_NAME = "text-widths.json"
MOST_WIDTHS = 50_000  # entries kept per face; past that, only those this process used are kept


@dataclass
class Record:
    """What is known of one face: its family and style, ascent and descent, and text widths in units."""
    name: tuple[str | None, str | None]
    metrics: tuple[int, int]
    widths: dict[str, float] = field(default_factory=dict)


@dataclass
class Face:
    """One face of a font file at 1000 units per em, measured through Pillow where the cache does not know."""
    file: str
    index: int
    identity: str
    record: Record
    loaded: FreeTypeFont | None = None
    measured: dict[str, float] = field(default_factory=dict)  # widths this process measured itself

    def name(self) -> tuple[str | None, str | None]:
        return self.record.name

    def metrics(self) -> tuple[int, int]:
        return self.record.metrics

    def length(self, text: str) -> float:
        """What Pillow's FreeTypeFont.getlength(text) returns for this face."""
        width = self.record.widths.get(text)
        if width is None:
            width = self.record.widths[text] = self.measured[text] = self.font().getlength(text)
            _keep_at_exit()
        return width

    def font(self) -> FreeTypeFont:
        if self.loaded is None:
            self.loaded = _truetype(self.file, self.index)
        return self.loaded


def face(file: str, index: int) -> Face | None:
    """The face `index` of `file`, or None where Pillow is missing or cannot load it."""
    try:
        identity = face_identity(file, index)
        with _LOCK:
            known = _faces()
    except (OSError, ImportError):  # the file is gone, or Pillow is not installed
        return None
    with _LOCK:
        record = known.get(identity)
        if record is not None:
            return _measuring(Face(file, index, identity, record))
        try:
            font = _truetype(file, index)
        except (OSError, ValueError):
            return None
        record = known[identity] = Record(font.getname(), font.getmetrics())
        _keep_at_exit()
        return _measuring(Face(file, index, identity, record, font))


def _measuring(face: Face) -> Face:
    _MEASURING.append(face)
    return face


def _truetype(file: str, index: int) -> FreeTypeFont:
    from PIL import ImageFont
    return ImageFont.truetype(file, UNITS, index=index)


def face_identity(file: str, index: int) -> str:
    """The file as it is now (path, face, size, modification time, inode, device) and the units it is measured in."""
    status = os.stat(file)
    return json.dumps([os.path.abspath(file), index, UNITS, status.st_size, status.st_mtime_ns, status.st_ino,
                       status.st_dev])


@functools.cache
def engine() -> str:
    """Pillow and the libraries with which it lays text out here (raqm only where it is available)."""
    import PIL
    from PIL import _imagingft
    parts = [f"Pillow {PIL.__version__}", f"FreeType {_imagingft.freetype2_version}"]
    if getattr(_imagingft, "HAVE_RAQM", False):
        parts += [f"raqm {_imagingft.raqm_version}", f"FriBiDi {_imagingft.fribidi_version}",
                  f"HarfBuzz {_imagingft.harfbuzz_version}"]
    return ", ".join(parts)


def cache_file() -> Path | None:
    folder = files.cache_folder()
    return folder / CACHE_NAME if folder is not None else None


_LOCK = threading.Lock()
_KNOWN: dict[str, Record] | None = None
_KEEPING = False
_FRESH = False  # measured something the cache did not hold since it was last written
_MEASURING: list[Face] = []  # the faces of this process


def _faces() -> dict[str, Record]:
    """Every face the cache knows, read once per process."""
    global _KNOWN
    if _KNOWN is None:
        path = cache_file()
        _KNOWN = stored(path, engine()) if path is not None else {}
    return _KNOWN


def forget() -> None:
    """Read the cache again at the next measurement (for tests)."""
    global _KNOWN, _FRESH
    with _LOCK:
        _KNOWN, _FRESH = None, False
        _MEASURING.clear()


def stored(path: Path, layout: str) -> dict[str, Record]:
    """The faces kept in `path` by the same layout engine; nothing where it is missing, unreadable or damaged."""
    try:
        content = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(content, dict) or content.get("format") != FORMAT or content.get("engine") != layout:
        return {}
    faces = content.get("faces")
    if not isinstance(faces, dict):
        return {}
    return {identity: record for identity, raw in faces.items() if (record := _record(raw)) is not None}


def _record(raw: Any) -> Record | None:
    """A face's entry as written by `save`, or None when it is anything else."""
    if not isinstance(raw, dict):
        return None
    name, metrics, widths = raw.get("name"), raw.get("metrics"), raw.get("widths")
    if not (isinstance(name, list) and len(name) == 2 and all(part is None or isinstance(part, str) for part in name)):
        return None
    if not (isinstance(metrics, list) and len(metrics) == 2 and all(type(part) is int for part in metrics)):
        return None
    if not (isinstance(widths, dict) and all(type(width) is float for width in widths.values())):
        return None
    return Record((name[0], name[1]), (metrics[0], metrics[1]), widths)


def _keep_at_exit() -> None:
    """Something new was measured: save at exit (once registered) what was measured until then."""
    global _KEEPING, _FRESH
    _FRESH = True
    if not _KEEPING:
        _KEEPING = True
        atexit.register(save)


def save() -> None:
    """Add what this process measured to the cache, if it measured anything new since (best effort: a cache
    that cannot be written is not kept). Called at exit, and by a process that leaves without its exit
    handlers (a forked child writing sheets)."""
    global _FRESH
    with _LOCK:
        path = cache_file()
        if _KNOWN is None or path is None or not _FRESH:
            return
        _FRESH = False
        try:
            write(path, engine(), _KNOWN, _measured_here())
        except (OSError, ValueError, ImportError):
            pass


def _measured_here() -> dict[str, dict[str, float]]:
    measured: dict[str, dict[str, float]] = {}
    for face in _MEASURING:
        measured.setdefault(face.identity, {}).update(face.measured)
    return measured


def write(path: Path, layout: str, known: dict[str, Record], measured: dict[str, dict[str, float]]) -> None:
    """`known` merged into what `path` holds now (another run may have added to it meanwhile), written whole
    beside it and moved into place, so that a reader sees the old cache or the new, never part of one."""
    faces = stored(path, layout)
    for identity, record in known.items():
        kept = faces.get(identity)
        widths = {**kept.widths, **record.widths} if kept is not None else dict(record.widths)
        if len(widths) > MOST_WIDTHS:  # start again from what this process measured
            widths = dict(measured.get(identity, record.widths))
        faces[identity] = Record(record.name, record.metrics, widths)
    content = {"format": FORMAT, "engine": layout,
               "faces": {identity: {"name": list(record.name), "metrics": list(record.metrics),
                                    "widths": record.widths}
                         for identity, record in faces.items() if _still_there(identity)}}
    files.replace_cached(path, json.dumps(content, separators=(",", ":")))


def _still_there(identity: str) -> bool:
    """Whether the face `identity` names is still that file as it was (a font since updated or removed is dropped)."""
    try:
        file, index = json.loads(identity)[:2]
        return face_identity(file, index) == identity
    except (OSError, ValueError, TypeError):
        return False
