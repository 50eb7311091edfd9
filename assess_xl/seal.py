"""The sealed year: one BagIt bag (RFC 8493, written by the `bagit` library) holding the rulebook as used,
every input exactly as received, the adjustments workbook, last year's scorecard, the outputs and a record
of the run (record.json); and `verify`, which checks the bag's manifests and re-runs the year from the bag
alone in a fresh process, with the recorded run date and file times, comparing every figure.

Layout inside the bag's payload (data/): rulebook/, inputs/ (each argument of the run as its own entry),
adjustments/, previous/, outputs/, record.json."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from assess_xl import __version__, pipeline
from assess_xl import problems as P
from assess_xl.problems import Code
from assess_xl.read.gather import display_name
from assess_xl.rules import load as rulebook_load
from assess_xl.rules import model
from assess_xl.rules.model import Rulebook

RECORD = "record.json"
FORMAT = 1  # the record's layout; a newer one is refused by name
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # zip members carry no time of sealing: the record holds the run's date
MAX_UNPACKED = 4 << 30
FIGURE_NAMES = {"files": "文件", "values": "填报值", "targets": "目标得分", "status": "目标状态",
                "categories": "类别得分", "totals": "总分与排名", "problems": "问题清单"}


@dataclass
class Sealable:
    """What a run used and made, as the command line knows it."""
    paths: list[str]  # the inputs as given
    rulebook: Path | None  # None: the embedded rulebook
    adjustments: Path | None = None
    previous: Path | None = None
    outputs: dict[str, bytes] = field(default_factory=dict)  # name in outputs/ → content
    written: list[Path] = field(default_factory=list)  # files this run wrote (not inputs, even inside an input folder)


@dataclass
class Verdict:
    changed_files: list[str] = field(default_factory=list)  # payload files whose manifest entry does not match
    differences: list[str] = field(default_factory=list)
    refused: str = ""  # why the bundle could not be re-run at all (newer tool, unreadable rulebook, not a bag)

    @property
    def agrees(self) -> bool:
        return not (self.changed_files or self.differences or self.refused)


# ---- sealing ----------------------------------------------------------------------------------

def figures(result: pipeline.CollectResult) -> dict:
    """Everything a re-run must reproduce: each file's verdict, each value, target score, category, total,
    rank and problem."""
    assert result.scores is not None, "only a written result is sealed"
    scores = result.scores

    def table(frame) -> dict:
        return {str(row): {str(col): _plain(value) for col, value in cells.items()}
                for row, cells in frame.to_dict("index").items()}

    return {
        "files": [{"name": f.info.name, "sha256": f.info.sha256, "verdict": f.status, "reason": f.reason}
                  for f in sorted(result.read.files, key=lambda f: (f.info.name, f.info.sha256))],
        "values": table(result.read.values), "targets": table(scores.targets), "status": table(scores.status),
        "categories": table(scores.categories), "totals": table(scores.totals),
        "problems": [[str(p.level), p.file, p.sheet, p.cell, p.district, p.code, p.message]
                     for p in result.read.problems],
    }


def _plain(value):
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and value != value else value


def seal(result: pipeline.CollectResult, book: Rulebook, options: pipeline.CollectOptions, given: Sealable) -> bytes:
    """The bag of this run, zipped."""
    with tempfile.TemporaryDirectory(prefix="assess-xl-seal-") as temp:
        root = Path(temp) / "bag"
        root.mkdir()
        written = {os.path.realpath(path) for path in given.written}
        arguments, stored = _stage_inputs(given.paths, root / "inputs", written)
        rulebook_name = _stage(given.rulebook or rulebook_load.embedded_rulebook_path(), root / "rulebook")
        record = {
            "format": FORMAT, "tool": {"name": "assess-xl", "version": __version__},
            "rulebook": {"file": rulebook_name, "fingerprint": book.fingerprint, "year": book.year},
            "run": {"date": pipeline.instant(result.generated or pipeline.run_time(options)).isoformat(), "zone": local_zone(),
                    "arguments": arguments},
            "options": {"strict_conflicts": options.strict_conflicts, "districts": options.districts,
                        "issuer": options.issuer,
                        "known_senders": sorted(options.known_senders) if options.known_senders is not None else None,
                        "adjustments": _stage(given.adjustments, root / "adjustments") if given.adjustments else None,
                        "adjustments_name": options.adjustments_name,
                        "previous": _stage(given.previous, root / "previous") if given.previous else None,
                        "previous_name": options.previous_name},
            "inputs": stored,
            "figures": _renamed(figures(result), arguments),
        }
        for name, content in given.outputs.items():
            (root / "outputs" / name).parent.mkdir(parents=True, exist_ok=True)
            (root / "outputs" / name).write_bytes(content)
        (root / RECORD).write_text(json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
        import bagit
        bagit.make_bag(str(root), {"Source-Organization": book.issuer, "External-Description":
                                   f"{book.document_title('考核')}：封存的输入、细则、结果和运行记录"},
                       checksums=["sha256"])
        return _zip(root)


def local_zone() -> str:
    """The run's time zone as TZ names it, so a re-run reads local times (an .ods saved time, a message's
    date as shown) as the run did: TZ when set, else the system's zone (/etc/localtime), else its offset."""
    if os.environ.get("TZ"):
        return os.environ["TZ"]
    try:
        link = os.readlink("/etc/localtime")
    except OSError:
        link = ""
    if "zoneinfo/" in link:
        return link.split("zoneinfo/", 1)[1]
    minutes = int((datetime.now().astimezone().utcoffset() or timedelta()).total_seconds() // 60)
    hours = f"{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return f"<{'+' if minutes >= 0 else '-'}{hours.replace(':', '')}>{'-' if minutes >= 0 else '+'}{hours}"  # POSIX: west is +


def _stage(source: Path, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / source.name)
    return f"{folder.name}/{source.name}"


def _stage_inputs(paths: list[str], folder: Path, written: set[str]) -> tuple[list[dict], list[dict]]:
    """Each argument copied byte for byte under inputs/ (a folder keeps its name, so files are named as in the
    run); each file's modification time recorded, since a conflict's later submission may depend on it."""
    arguments, stored = [], []
    for number, given in enumerate(paths, start=1):
        source = Path(given)
        place = source.name or f"{number}"
        if (folder / place).exists():
            place = f"{number}/{source.name}"
        arguments.append({"given": given, "stored": place})
        for file in _regular_files(source):
            if os.path.realpath(file) in written:
                continue
            relative = Path(place) / file.relative_to(source) if source.is_dir() else Path(place)
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)
            stored.append({"file": relative.as_posix(), "mtime_ns": file.stat().st_mtime_ns})
    return arguments, sorted(stored, key=lambda item: item["file"])


def _regular_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if not source.is_dir():
        return []
    return sorted(p for p in source.rglob("*") if p.is_file() and not p.is_symlink())


def _renamed(sealed: dict, arguments: list[dict]) -> dict:
    """Names as the re-run will show them: a file given by a path outside its folder is re-read by its stored name."""
    text = json.dumps(sealed, ensure_ascii=False)
    for argument in arguments:
        shown, replay = display_name(argument["given"]), display_name(argument["stored"])
        if Path(argument["given"]).is_file() and shown != replay:
            text = text.replace(json.dumps(shown, ensure_ascii=False)[1:-1], json.dumps(replay, ensure_ascii=False)[1:-1])
    return json.loads(text)


def _zip(root: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            member = zipfile.ZipInfo(f"{root.name}/{path.relative_to(root).as_posix()}", ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, path.read_bytes())
    return buffer.getvalue()


# ---- verifying ----------------------------------------------------------------------------------

def verify(bundle: Path) -> Verdict:
    """Manifests first (which payload file changed), then the year re-run in a fresh process and compared."""
    with tempfile.TemporaryDirectory(prefix="assess-xl-verify-") as temp:
        try:
            root = _unpack(bundle, Path(temp)) if bundle.is_file() else bundle
        except zipfile.BadZipFile:
            return Verdict(refused=P.text(Code.SEAL_NOT_A_BUNDLE, bundle=bundle, reason="不是有效的zip文件"))
        except ValueError as exc:
            return Verdict(refused=P.text(Code.SEAL_NOT_A_BUNDLE, bundle=bundle, reason=exc))
        if not (root / "bagit.txt").is_file():
            return Verdict(refused=P.text(Code.SEAL_NOT_A_BUNDLE, bundle=bundle, reason="其中没有bagit.txt"))
        verdict = Verdict(changed_files=_manifest_problems(root))
        try:
            record = json.loads((root / "data" / RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            verdict.refused = P.text(Code.SEAL_NO_RECORD, reason=P.reason(exc))
            return verdict
        verdict.refused = _newer(record)
        if not verdict.refused:
            rerun = _rerun_in_child(root, str(record["run"].get("zone") or ""))
            if "refused" in rerun:
                verdict.refused = rerun["refused"]
            else:
                verdict.differences = compare(record, rerun)
        return verdict


def _unpack(bundle: Path, into: Path) -> Path:
    with zipfile.ZipFile(bundle) as archive:
        members = archive.infolist()
        if sum(m.file_size for m in members) > MAX_UNPACKED:
            raise ValueError(f"解压后超过{MAX_UNPACKED >> 30} GB")
        for member in members:
            parts = Path(member.filename).parts
            if member.filename.startswith("/") or ".." in parts:
                raise ValueError(f"成员路径不安全：{member.filename}")
        archive.extractall(into)
    tops = [p for p in into.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 and not (into / "bagit.txt").exists() else into


def _manifest_problems(root: Path) -> list[str]:
    import bagit
    try:
        bag = bagit.Bag(str(root))
        bag.validate()
    except bagit.BagValidationError as exc:
        details = getattr(exc, "details", None) or []
        # bagit stops at a changed Payload-Oxum (total size) without naming a file: the manifest names it
        return sorted({_detail(d) for d in details}) or _changed_entries(root, bag) or [
            P.text(Code.SEAL_BAG_INVALID, path="bag-info.txt")]
    except bagit.BagError:
        return [P.text(Code.SEAL_BAG_INVALID, path="bagit.txt")]
    return []


def _changed_entries(root: Path, bag) -> list[str]:
    changed = []
    for path, hashes in sorted(bag.entries.items()):
        expected = hashes.get("sha256")
        file = root / path
        if not file.is_file():
            changed.append(P.text(Code.SEAL_FILE_MISSING, path=path))
        elif expected and hashlib.sha256(file.read_bytes()).hexdigest() != expected:
            changed.append(P.text(Code.SEAL_FILE_CHANGED, path=path))
    return changed


def _detail(detail) -> str:
    import bagit
    path = getattr(detail, "path", "")
    if isinstance(detail, bagit.ChecksumMismatch):
        return P.text(Code.SEAL_FILE_CHANGED, path=path)
    if type(detail).__name__ == "FileMissing":
        return P.text(Code.SEAL_FILE_MISSING, path=path)
    if type(detail).__name__ == "UnexpectedFile":
        return P.text(Code.SEAL_FILE_UNEXPECTED, path=path)
    return P.text(Code.SEAL_BAG_INVALID, path=path)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def _newer(record: dict) -> str:
    made_by, made_format = str(record.get("tool", {}).get("version", "")), int(record.get("format", 0))
    if made_format > FORMAT:
        return P.text(Code.SEAL_NEWER_FORMAT, made_by=made_by, made_format=made_format, here=__version__, format=FORMAT)
    if _version(made_by) > _version(__version__):
        return P.text(Code.SEAL_NEWER, made_by=made_by, here=__version__)
    return ""


def _rerun_in_child(root: Path, zone: str) -> dict:
    """`python -m assess_xl.seal BAG`: a fresh interpreter, so nothing of this process leaks into the figures;
    in the run's time zone (recorded), so local times read as they did."""
    environment = {**os.environ, "TZ": zone} if zone else None
    done = subprocess.run([sys.executable, "-m", "assess_xl.seal", str(root)], capture_output=True, timeout=3600,
                          env=environment)
    try:
        return json.loads(done.stdout.decode("utf-8"))
    except ValueError:
        sys.stderr.write(done.stderr.decode("utf-8", "replace")[-2000:])  # for whoever debugs: not the message
        return {"refused": P.text(Code.SEAL_RERUN_FAILED, status=done.returncode)}


def rerun(root: Path) -> dict:
    """The year from the bag alone: its rulebook, its inputs with their recorded file times, the recorded run
    date and options. Returns the figures, or {'refused': why}."""
    payload = root / "data"
    record = json.loads((payload / RECORD).read_text(encoding="utf-8"))
    try:
        book = rulebook_load.load(payload / record["rulebook"]["file"])
    except model.RulebookError as exc:
        return {"refused": P.text(Code.SEAL_RULEBOOK_NEWER, messages="".join(exc.messages))}
    with tempfile.TemporaryDirectory(prefix="assess-xl-rerun-") as temp:
        inputs = Path(temp) / "inputs"
        shutil.copytree(payload / "inputs", inputs) if (payload / "inputs").is_dir() else inputs.mkdir()
        for item in record["inputs"]:
            os.utime(inputs / item["file"], ns=(item["mtime_ns"], item["mtime_ns"]))
        options = _options(record, payload)
        here = os.getcwd()
        os.chdir(inputs)  # the arguments as the run gave them, so every file is named as it was
        try:
            result = pipeline.collect([a["stored"] for a in record["run"]["arguments"]], book, options)
        finally:
            os.chdir(here)
    if result.scores is None:
        return {"refused": P.text(Code.SEAL_RERUN_NOTHING)}
    return {"fingerprint": book.fingerprint, "figures": figures(result)}


def _options(record: dict, payload: Path) -> pipeline.CollectOptions:
    given = record["options"]
    senders = given.get("known_senders")
    return pipeline.CollectOptions(
        strict_conflicts=bool(given["strict_conflicts"]), districts=given.get("districts"),
        generated=datetime.fromisoformat(record["run"]["date"]), issuer=given.get("issuer"),
        adjustments=(payload / given["adjustments"]).read_bytes() if given.get("adjustments") else None,
        adjustments_name=given.get("adjustments_name") or "调整表",
        previous=(payload / given["previous"]).read_bytes() if given.get("previous") else None,
        previous_name=given.get("previous_name") or "上年考核结果",
        known_senders=frozenset(senders) if senders is not None else None, robustness=False)


def compare(record: dict, rerun: dict) -> list[str]:
    """Every figure that differs, named: '总分与排名 鼓楼区 总分：封存记录 98.5，重新计算 97.5' (a problem line:
    how many times it was recorded and found)."""
    out = []
    if record["rulebook"]["fingerprint"] != rerun["fingerprint"]:
        out.append(P.text(Code.SEAL_FIGURE_DIFFERS, what="评分细则指纹", sealed=record["rulebook"]["fingerprint"],
                          again=rerun["fingerprint"]))
    sealed, again = _flat(record.get("figures", {})), _flat(rerun["figures"])
    for key in sorted(set(sealed) | set(again)):
        if sealed.get(key, "（无）") != again.get(key, "（无）"):
            out.append(P.text(Code.SEAL_FIGURE_DIFFERS, what=" ".join(key), sealed=_shown(sealed.get(key, "（无）")),
                              again=_shown(again.get(key, "（无）"))))
    return out


def _flat(figures_: dict) -> dict[tuple[str, ...], object]:
    flat: dict[tuple[str, ...], object] = {}
    for part, content in figures_.items():
        label = FIGURE_NAMES.get(part, part)
        if part == "files":
            for item in content:
                flat[(label, item["name"], item["sha256"][:12])] = f"{item['verdict']} {item['reason']}".strip()
        elif part == "problems":  # compared as a list of lines: a missing one is named, not every one after it
            for row in content:
                key = (label, " ".join(str(x) for x in row if x))
                flat[key] = int(flat.get(key, 0)) + 1  # type: ignore[call-overload]
        else:
            for row, cells in content.items():
                for column, value in cells.items():
                    flat[(label, row, column)] = value
    return flat


def _shown(value) -> str:
    return "（空）" if value is None else str(value)


if __name__ == "__main__":  # the fresh process `verify` starts
    print(json.dumps(rerun(Path(sys.argv[1])), ensure_ascii=False))
