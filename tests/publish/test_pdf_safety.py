"""`pdf` renders only what this tool wrote, with LibreOffice's external links off, and leaves no copy of
the scorecard behind in TMPDIR after a kill -9 (issue 19, items 19 and 21). Through the installed
console script and a real LibreOffice; an HTTP server on 127.0.0.1 records every request."""
import http.server
import io
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from assess_xl.publish import documents as publish
from assess_xl.demo import fill_workbook
from helpers import requires_soffice, write_forms

EXE = Path(sys.executable).parent / "assess-xl"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


@pytest.fixture
def beacon():
    """A server on 127.0.0.1 that records the path of every request it gets."""
    hits: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


@pytest.fixture(scope="module")
def scorecard(book, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pdf")
    blank = write_forms(book, ["甲区", "乙区"], folder / "blank")
    (folder / "inbox").mkdir()
    fill_workbook(blank["办公室"], folder / "inbox" / "bgs.xlsx", {"办公室": {"1-1": {"甲区": "是", "乙区": "否"}}})
    out = folder / "考核结果.xlsx"
    subprocess.run([EXE, "collect", folder / "inbox", "-o", out], capture_output=True, timeout=300)
    assert out.exists()
    return out


def with_linked_picture(content: bytes, url: str) -> bytes:
    """The scorecard with a picture on 汇总 that LibreOffice would fetch from `url` (a look-alike:
    its hidden metadata still says it is a scorecard of this tool)."""
    picture = (b'<xdr:twoCellAnchor><xdr:from><xdr:col>0</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>0</xdr:row>'
               b'<xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:to><xdr:col>3</xdr:col><xdr:colOff>0</xdr:colOff>'
               b'<xdr:row>5</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to><xdr:pic><xdr:nvPicPr>'
               b'<xdr:cNvPr id="3" name="Picture 2"/><xdr:cNvPicPr/></xdr:nvPicPr><xdr:blipFill>'
               b'<a:blip xmlns:r="' + RELS.encode() + b'" r:link="rId9"/><a:stretch><a:fillRect/></a:stretch>'
               b'</xdr:blipFill><xdr:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="952500" cy="952500"/></a:xfrm>'
               b'<a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr></xdr:pic><xdr:clientData/>'
               b'</xdr:twoCellAnchor>')
    link = (f"<Relationship Id='rId9' Type='{RELS}/image' Target='{url}/beacon.png' "
            "TargetMode = 'External'/>").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/drawings/drawing1.xml":
                data = data.replace(b"</xdr:wsDr>", picture + b"</xdr:wsDr>")
            elif item.filename == "xl/drawings/_rels/drawing1.xml.rels":
                data = data.replace(b"</Relationships>", link + b"</Relationships>")
            target.writestr(item, data)
    return out.getvalue()


def pdf(path: Path, *extra, env=None) -> subprocess.CompletedProcess:
    done = subprocess.run([EXE, "pdf", path, *extra], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode in (0, 2) and "Traceback" not in done.stdout + done.stderr, done.stderr[-2000:]
    return done


def test_a_look_alike_with_a_linked_picture_is_refused_and_nothing_is_fetched(scorecard, beacon, tmp_path):
    url, hits = beacon
    fake = tmp_path / "考核结果.xlsx"
    fake.write_bytes(with_linked_picture(scorecard.read_bytes(), url))
    done = pdf(fake)
    assert done.returncode == 2 and "外部" in done.stderr and url in done.stderr
    assert not fake.with_suffix(".pdf").exists() and hits == []


def test_a_workbook_of_another_kind_is_refused(tmp_path, book):
    form = write_forms(book, ["甲区"], tmp_path)["办公室"]
    done = pdf(form)
    assert done.returncode == 2 and "不是本工具生成的考核结果" in done.stderr and not form.with_suffix(".pdf").exists()


def test_a_far_cell_in_a_scorecard_is_a_message_not_an_abort(scorecard, tmp_path):
    with zipfile.ZipFile(scorecard) as source:
        parts = [(item, source.read(item.filename)) for item in source.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item, data in parts:
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')
            target.writestr(item, data)
    far = tmp_path / "far.xlsx"
    far.write_bytes(buffer.getvalue())
    done = pdf(far)
    assert done.returncode == 2 and "第1048576行" in done.stderr


@requires_soffice
def test_libreoffice_runs_with_external_links_off(scorecard, beacon):
    """Even a workbook that reached LibreOffice could not make it fetch a URL."""
    url, hits = beacon
    produced = publish.convert(with_linked_picture(scorecard.read_bytes(), url), "x.xlsx", "pdf:calc_pdf_Export")
    assert produced.startswith(b"%PDF") and hits == []


def leftovers(tmp: Path) -> list[Path]:
    return sorted(tmp.glob(publish.TEMP_PREFIX + "*"))


@requires_soffice
def test_a_run_killed_during_pdf_leaves_nothing_that_the_next_run_does_not_clean(scorecard, tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    run = subprocess.Popen([EXE, "pdf", scorecard, "-o", tmp_path / "a.pdf"], env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(folder.glob("*.xlsx") for folder in leftovers(tmp)) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    killed = leftovers(tmp)
    assert killed and any(folder.glob("*.xlsx") for folder in killed)  # kill -9 skips every cleanup
    alive = tmp / f"{publish.TEMP_PREFIX}{os.getpid()}-live"  # a folder of a run still going is left alone
    alive.mkdir()
    done = pdf(scorecard, "-o", tmp_path / "b.pdf", env=env)
    assert done.returncode == 0 and (tmp_path / "b.pdf").exists()
    assert leftovers(tmp) == [alive]
