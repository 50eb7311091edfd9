"""Rulebook texts parsed before, kept between runs in the user's cache folder (`parsed-yaml.json` beside the
text widths, see files.cache_folder): importing PyYAML and parsing the embedded rulebook with it is about
20 ms of every run that reads returned forms, before the reading can start, for the same text every time.

A text's entry is found by the SHA-256 of the text and holds for the same PyYAML only (the files of its package
and of its libyaml extension: path, size, modification time, inode); it is what PyYAML's safe loader made of
the text, written so that every value comes back of the same type and value (mappings keep their keys' types
and order; dates and times stay dates and times). A text whose parse holds anything else is not kept. Each
PyYAML keeps its own entries, for a few of them (the folder is the user's, shared by every installation of
assess-xl they run, each with its PyYAML: one kept alone made every other parse again and take its place). A
missing, unreadable or damaged cache, or one that cannot be written, only means parsing again."""
from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from assess_xl import files

FORMAT = 2
CACHE_NAME = "parsed-yaml.json"
MOST_TEXTS = 8  # texts kept per PyYAML: the embedded rulebook and a few of the coordinator's
MOST_PARSERS = 4  # PyYAMLs (installations) whose texts are kept, the one that parsed last kept longest


class ParseError(Exception):
    """PyYAML could not parse the text: what it says the problem is, and the line (from 0) where, if known."""

    def __init__(self, problem: object, line: int | None):
        super().__init__(problem)
        self.problem, self.line = problem, line


def parse(text: str) -> Any:
    """What `yaml.load(text, Loader=CSafeLoader)` returns (SafeLoader without libyaml), from the cache when this
    text was parsed before by the same PyYAML."""
    path, parser = _cache_file(), _parser()
    key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    kept = _stored(path).get(parser, {}) if path is not None and parser is not None else {}
    if key in kept:
        try:
            return decoded(kept[key])
        except (ValueError, TypeError, KeyError, AttributeError):  # a damaged entry: parsed again
            pass
    raw = _parsed(text)
    if path is not None and parser is not None:
        _keep(path, parser, key, raw)
    return raw


def _parsed(text: str) -> Any:
    import yaml
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10× faster
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ParseError(getattr(exc, "problem", exc), mark.line if mark else None) from None


def _cache_file() -> Path | None:
    folder = files.cache_folder()
    return folder / CACHE_NAME if folder is not None else None


def _parser() -> str | None:
    """PyYAML's files as they are now, without importing it; None where it cannot be found."""
    try:
        spec = importlib.util.find_spec("yaml")
        if spec is None or spec.origin is None:
            return None
        package = Path(spec.origin).parent
        parts = sorted(str(path) for path in package.iterdir() if path.suffix in (".py", ".so", ".pyd"))
        return json.dumps([[part, *_identity(part)] for part in parts])
    except (OSError, ValueError, ImportError):
        return None


def _identity(path: str) -> list[int]:
    status = os.stat(path)
    return [status.st_size, status.st_mtime_ns, status.st_ino, status.st_dev]


def _stored(path: Path) -> dict[str, dict[str, Any]]:
    """Each PyYAML's texts (SHA-256 → entry) as the cache holds them, the one that parsed last last."""
    try:
        content = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(content, dict) or content.get("format") != FORMAT or not isinstance(content.get("parsers"), dict):
        return {}
    return {parser: texts for parser, texts in content["parsers"].items() if isinstance(texts, dict)}


def _keep(path: Path, parser: str, key: str, raw: Any) -> None:
    try:
        entry = encoded(raw)
    except TypeError:  # a value this cache does not write: parsed again next time
        return
    parsers = _stored(path)
    texts = {name: kept for name, kept in parsers.pop(parser, {}).items() if name != key}
    texts = dict(list(texts.items())[-(MOST_TEXTS - 1):]) if MOST_TEXTS > 1 else {}
    texts[key] = entry
    parsers = dict(list(parsers.items())[-(MOST_PARSERS - 1):]) if MOST_PARSERS > 1 else {}
    parsers[parser] = texts
    try:
        files.replace_cached(path, json.dumps({"format": FORMAT, "parsers": parsers}))
    except (OSError, ValueError):
        pass


def encoded(value: Any) -> Any:
    """`value` as JSON that `decoded` turns back into an equal value of the same types: strings, booleans,
    None, whole numbers and floats stand for themselves, lists are lists, every other value is an object
    naming its kind (a mapping as its key and value pairs, in order). TypeError for any other type."""
    if value is None or type(value) in (bool, str, int, float):
        return value
    if type(value) is list:
        return [encoded(item) for item in value]
    if type(value) is dict:
        return {"map": [[encoded(key), encoded(item)] for key, item in value.items()]}
    if type(value) is dt.datetime:
        return {"datetime": value.isoformat()}
    if type(value) is dt.date:
        return {"date": value.isoformat()}
    raise TypeError(type(value).__name__)


def decoded(value: Any) -> Any:
    if value is None or type(value) in (bool, str, int, float):
        return value
    if type(value) is list:
        return [decoded(item) for item in value]
    (kind, content), = value.items()
    if kind == "map":
        return {decoded(key): decoded(item) for key, item in content}
    if kind == "datetime":
        return dt.datetime.fromisoformat(content)
    if kind == "date":
        return dt.date.fromisoformat(content)
    raise ValueError(kind)
