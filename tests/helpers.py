"""Shared test helpers: write forms to disk and set a workbook's saved time as an office program would."""
import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import datetime
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from assess_xl.publish import forms

from assess_xl.xlsx import preflight

from assess_xl.read import form as readback

NOW = datetime(2007, 12, 20, 9, 30)


def write_forms(book, districts, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for form in forms.build_forms(book, districts, now=NOW):
        path = folder / form.name
        path.write_bytes(form.content)
        key = form.departments[0] if len(form.departments) == 1 else "全部"
        paths[key] = path
    return paths


def returned_forms(book, folder: Path, entries: dict[str, dict[str, dict[str, str]]], districts=("甲区", "乙区"),
                   file_names: dict[str, str] | None = None, saved: str | None = None) -> tuple[dict[str, Path], Path]:
    """Blank forms for `districts` in folder/blank, and in folder/inbox each department's return with its
    entries typed as a person types them (department → code → district → text), named 部门.xlsx unless
    `file_names` names it otherwise, its saved time `saved` when given. Returns (blank forms, inbox)."""
    from assess_xl.demo import fill_workbook
    blank = write_forms(book, list(districts), folder / "blank")
    inbox = folder / "inbox"
    inbox.mkdir()
    for department, codes in entries.items():
        path = inbox / f"{(file_names or {}).get(department, department)}.xlsx"
        fill_workbook(blank[department], path, {department: codes})
        if saved:
            set_saved_time(path, saved)
    return blank, inbox


def set_saved_time(path: Path, stamp: str, mtime: float | None = None) -> None:
    """Rewrite docProps/core.xml's modified time (openpyxl always stamps the time of saving)."""
    with zipfile.ZipFile(path) as source:
        parts = {info: source.read(info.filename) for info in source.infolist()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in parts.items():
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]+", rb"\g<1>" + stamp.encode(), data)
            target.writestr(info, data)
    path.write_bytes(buffer.getvalue())
    if mtime is not None:
        os.utime(path, (mtime, mtime))


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
# Tests that meet LibreOffice skip without it, except in CI, where .ci/run installs it and they must run.
requires_soffice = pytest.mark.skipif(SOFFICE is None and os.environ.get("CI") != "true",
                                      reason="LibreOffice (soffice) is not installed; .ci/run installs it")
FILTERS = {"xlsx": "xlsx:Calc MS Excel 2007 XML", "xls": "xls:MS Excel 97", "ods": "ods"}


def soffice_convert(path: Path, out_dir: Path, suffix: str = "xlsx") -> Path:
    """Open a workbook in LibreOffice Calc and save it as `suffix`, as another office program would."""
    assert SOFFICE, "LibreOffice is required (.ci/run installs it)"
    out_dir.mkdir(parents=True, exist_ok=True)
    profile = out_dir / "lo-profile"
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--calc",
                    "--convert-to", FILTERS[suffix], "--outdir", str(out_dir), str(path)],
                   check=True, capture_output=True, timeout=180)
    return out_dir / (path.stem + "." + suffix)


def soffice_resave(path: Path, out_dir: Path) -> Path:
    """Open and re-save a workbook in LibreOffice Calc, as another office program would."""
    return soffice_convert(path, out_dir, "xlsx")


def read_without_preflight(item, book):
    """readback.read_one with the shared-string pre-flight switched off (runs in a sandbox child)."""
    preflight.MAX_SHARED_STRINGS = 10 ** 15
    return readback.read_one(item, book)


def cannot_import(item, *context):
    """A reader whose child lacks a library (runs in a sandbox child)."""
    raise ImportError("No module named 'python_calamine'")


def write_pid_and_sleep(item):
    """Records the child's pid, then blocks (to see whether children die with their parent)."""
    import time
    Path(item).write_text(str(os.getpid()))
    time.sleep(600)


def gone(pid: int) -> bool:
    """Whether no process `pid` exists any more (ended and reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def assess_xl(*args, cwd=None, env=None, columns: int = 200) -> subprocess.CompletedProcess:
    """The installed `assess-xl` console script, run as a coordinator runs it (by default in a wide
    terminal, so that tables are not folded), with `env` added to the environment."""
    exe = Path(sys.executable).parent / "assess-xl"
    env = {**os.environ, "COLUMNS": str(columns), **(env or {})}
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=900, cwd=cwd, env=env)


def rulebook_2008(folder: Path) -> Path:
    """Next year's rulebook, made as a coordinator makes it (the 2007 YAML edited): year 2008, 16-1 renamed
    16-1a, and 38-3 typed as an amount instead of a count; everything else unchanged."""
    import yaml

    from assess_xl.rules import load as rulebook
    raw = yaml.safe_load(rulebook.embedded_rulebook_path().read_text(encoding="utf-8"))
    raw["year"], raw["title"] = 2008, raw["title"].replace("2007", "2008")
    for target in raw["targets"]:
        for indicator in target.get("indicators", []):
            if indicator["code"] == "16-1":
                indicator["code"] = "16-1a"
            if indicator["code"] == "38-3":
                indicator["type"] = "amount"
    path = folder / "2008.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# ---- mail as clients write it ------------------------------------------------------------

def message(attachments, date="Mon, 07 Jan 2008 09:00:00 +0800", subject="开发处填报表", sender="kfc@example.cn",
            message_id="<1@example.cn>") -> bytes:
    outer = MIMEMultipart()
    outer["From"], outer["To"], outer["Date"] = sender, "zhc@example.cn", date
    outer["Subject"], outer["Message-ID"] = Header(subject, "utf-8").encode(), message_id
    outer.attach(MIMEText("附件是我处的填报表。", "plain", "utf-8"))
    for part in attachments:
        outer.attach(part)
    return outer.as_bytes()


def attachment(data: bytes, disposition: str, content_type="application/octet-stream") -> MIMEApplication:
    part = MIMEApplication(data, _subtype=content_type.split("/")[1])
    part.replace_header("Content-Type", f"{content_type}; name=\"x.xlsx\"")
    part["Content-Disposition"] = disposition
    return part


def read_paths(paths, book, **options):
    """What `collect` reads from `paths` through the pipeline's one entry point, before scoring."""
    from assess_xl import pipeline
    return pipeline.read(paths, book, pipeline.CollectOptions(**options))[0]
