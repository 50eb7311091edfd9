"""One message, one verdict (issue 19, items 1-5), through the real `assess-xl collect`: good returns
mixed with each hostile case give the same totals as the good returns alone, the hostile part is
named in 问题清单, and there is no traceback. Every hostile input is generated here."""
import io
import os
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest

from assess_xl.score import previous

from assess_xl.xlsx.parse import parse_workbook
from assess_xl.demo import fill_workbook
from helpers import assess_xl, attachment, message, write_forms

DISTRICTS = ["甲区", "乙区"]


@pytest.fixture(scope="module")
def returns(book, tmp_path_factory):
    """Two departments' filled copies (bytes) and the blank 办公室 copy to make hostile look-alikes from."""
    folder = tmp_path_factory.mktemp("returns")
    blank = write_forms(book, DISTRICTS, folder / "blank")
    fill_workbook(blank["办公室"], folder / "bgs.xlsx", {"办公室": {"1-1": {"甲区": "是", "乙区": "否"},
                                                                "1-2": {"甲区": "是", "乙区": "是"}}})
    fill_workbook(blank["开发处"], folder / "kfc.xlsx", {"开发处": {"6-1": {"甲区": "3", "乙区": "1"}}})
    return {name: (folder / f"{name}.xlsx").read_bytes() for name in ("bgs", "kfc")}


def collect(inputs: list[Path], out: Path, **env) -> tuple[subprocess.CompletedProcess, dict, list[dict]]:
    """`assess-xl collect` as a coordinator runs it: (process, totals by district, 问题清单 rows)."""
    done = assess_xl("collect", *inputs, "-o", out, env=env)
    assert "Traceback" not in done.stdout + done.stderr and done.returncode in (0, 1), done.stdout + done.stderr
    content = out.read_bytes()
    totals = {d: t["总分"] for d, t in previous.read(parse_workbook(content)).totals.items()}
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True)["问题清单"]
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    return done, totals, [dict(zip(header, row)) for row in rows[1:]]


@pytest.fixture(scope="module")
def baseline(returns, tmp_path_factory):
    """The totals of the good returns alone, as plain files."""
    folder = tmp_path_factory.mktemp("baseline")
    for name, data in returns.items():
        (folder / f"{name}.xlsx").write_bytes(data)
    _, totals, _ = collect([folder], folder.parent / "baseline.xlsx")
    assert totals and any(total > 0 for total in totals.values())
    return totals


def mail_of(data: bytes, name: str, sender: str, day: int, number: int) -> bytes:
    return message([attachment(data, f'attachment; filename="{name}"')], f"Mon, {day:02d} Jan 2008 09:00:00 +0800",
                   sender=sender, message_id=f"<{number}@example.cn>")


def good_mails(returns) -> list[bytes]:
    return [mail_of(returns["bgs"], "bgs.xlsx", "bgs@example.cn", 7, 1),
            mail_of(returns["kfc"], "kfc.xlsx", "kfc@example.cn", 8, 2)]


def mbox(messages: list[bytes]) -> bytes:
    return b"".join(b"From sender@example.cn Mon Jan  7 09:00:00 2008\n" + m.rstrip(b"\n") + b"\n\n" for m in messages)


def problems_of(rows: list[dict], name: str) -> list[dict]:
    """Rows of one file, shown under the path as given (`name` is its end)."""
    return [row for row in rows if str(row["文件"] or "").endswith(name)]


# ---- hostile inputs, generated ------------------------------------------------------------------

def nested_multipart(depth: int) -> bytes:
    """A message whose multiparts nest `depth` deep (the email package recurses over them)."""
    head = b"From: deep@example.cn\nSubject: deep\nDate: Mon, 07 Jan 2008 10:00:00 +0800\nMIME-Version: 1.0\n"
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(depth))
    closing = b"".join(b"\n--b%d--\n" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\n\nhi\n" + closing


def far_cell_workbook(template: bytes, spelling: str) -> bytes:
    """The 办公室 copy with one more cell at XFD1048576 in the first sheet, its attributes spelt in
    one of the ways XML allows (the pre-flight once read only double quotes)."""
    cells = {
        "single": b"<row r='1048576'><c r='XFD1048576' t='n'><v>1</v></c></row>",
        "spaces": b'<row r = "1048576" ><c  r = "XFD1048576"\n t="n"><v>1</v></c></row>',
        "prefix": b'<x:row r="1048576"><x:c r="XFD1048576"><x:v>1</x:v></x:c></x:row>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                if spelling == "prefix":
                    content = content.replace(b"<worksheet ", b'<worksheet xmlns:x="http://schemas.openxmlformats.org/'
                                                              b'spreadsheetml/2006/main" ', 1)
                content = content.replace(b"</sheetData>", cells[spelling] + b"</sheetData>", 1)
            target.writestr(info, content)
    return out.getvalue()


def spam(number: int) -> bytes:
    return (f"From: spam{number}@spam.example\nTo: zhc@example.cn\nSubject: offer {number}\n"
            f"Date: Sun, 06 Jan 2008 08:00:00 +0800\nMessage-ID: <s{number}@spam.example>\n\nbuy now\n").encode()


# ---- 1. one message, one verdict -----------------------------------------------------------------

def test_a_message_nested_1200_deep_costs_only_itself(returns, baseline, tmp_path):
    one, two = good_mails(returns)
    (tmp_path / "收件箱.mbox").write_bytes(mbox([one, nested_multipart(1200), two]))
    _, totals, rows = collect([tmp_path / "收件箱.mbox"], tmp_path / "out.xlsx")
    assert totals == baseline
    (row,) = problems_of(rows, "收件箱.mbox#2")
    assert row["级别"] == "错误" and "嵌套" in row["说明"]


@pytest.mark.parametrize("spelling", ["single", "spaces", "prefix"])
def test_an_eml_holding_several_messages_is_a_mailbox_and_a_far_cell_costs_only_its_attachment(
        returns, baseline, tmp_path, spelling):
    one, two = good_mails(returns)
    far = mail_of(far_cell_workbook(returns["bgs"], spelling), "far.xlsx", "far@example.cn", 9, 3)
    (tmp_path / "returns.eml").write_bytes(mbox([one, far, two]))
    _, totals, rows = collect([tmp_path / "returns.eml"], tmp_path / "out.xlsx")
    assert totals == baseline
    (row,) = problems_of(rows, "returns.eml#2 › far.xlsx")
    assert row["级别"] == "错误" and "第1048576行" in row["说明"] and "已拒绝" in row["说明"]


# ---- 2. caps keep what can be a return, and say what they dropped --------------------------------

def test_5000_spam_messages_before_the_returns(returns, baseline, tmp_path):
    one, two = good_mails(returns)
    (tmp_path / "box.mbox").write_bytes(mbox([spam(n) for n in range(5000)] + [one, two]))
    _, totals, rows = collect([tmp_path / "box.mbox"], tmp_path / "out.xlsx")
    assert totals == baseline
    capped = [row for row in rows if str(row["文件"]).endswith("/box.mbox") and "超过上限" in row["说明"]]
    assert len(capped) == 1 and "5002封" in capped[0]["说明"] and "未读取2封，其中带附件的0封" in capped[0]["说明"]
    assert "#1、#2" in capped[0]["说明"]  # the oldest spam was dropped, by number
    quiet = [row for row in rows if str(row["文件"]).endswith("/box.mbox") and "没有Excel工作簿附件" in row["说明"]]
    assert len(quiet) == 1 and "4998封" in quiet[0]["说明"]


# ---- 3. every file has its own deadline ------------------------------------------------------------

# ---- 5. whatever a child raises or however it dies --------------------------------------------------

INJECTED = '''
import os, signal, time
from assess_xl.read import form as readback


class PanicException(BaseException):
    """What pyo3 raises when the Rust code under python-calamine panics."""


real = readback.parse_workbook


def parse_workbook(data):
    if b"PANIC-ME" in data:
        raise PanicException("index out of bounds: the len is 0 but the index is 0")
    if b"SEGV-ME" in data:
        os.kill(os.getpid(), signal.SIGSEGV)
    if b"EXIT-ME" in data:
        os._exit(3)
    if b"SLOW-ME" in data:
        time.sleep(3600)
    return real(data)


readback.parse_workbook = parse_workbook
'''


def stored(template: bytes, marker: bytes) -> bytes:
    """A copy of a workbook, uncompressed, carrying a marker the injected parser reacts to."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
        target.writestr("docProps/marker.xml", marker)
    return out.getvalue()


def injected_pythonpath(tmp_path: Path) -> str:
    """A PYTHONPATH that puts the injected parser into every process of the run."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(INJECTED)
    return os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH", "")]))


def test_a_parser_that_panics_segfaults_or_exits_is_that_files_verdict(returns, baseline, tmp_path):
    """The parser is replaced (sitecustomize, in every process of the run) by one that raises a
    BaseException, kills itself with SIGSEGV or exits for marked files: what python-calamine does on
    some real .xls/.xlsb files. Each is its file's verdict; the run ends with a report."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, data in returns.items():
        (inbox / f"{name}.xlsx").write_bytes(data)
    for marker in ("PANIC", "SEGV", "EXIT"):
        (inbox / f"{marker.lower()}.xlsx").write_bytes(stored(returns["bgs"], f"{marker}-ME".encode()))
    (inbox / "box.mbox").write_bytes(mbox([mail_of(stored(returns["kfc"], b"PANIC-ME"), "p.xlsx", "p@x.cn", 9, 5)]))
    _, totals, rows = collect([inbox], tmp_path / "out.xlsx", PYTHONPATH=injected_pythonpath(tmp_path))
    assert totals == baseline
    said = {row["文件"]: row["说明"] for row in rows}
    assert "PanicException" in said["inbox/panic.xlsx"]
    assert "解析程序崩溃（信号SIGSEGV" in said["inbox/segv.xlsx"]
    assert "解析程序崩溃（退出状态3" in said["inbox/exit.xlsx"]
    assert "PanicException" in said["inbox/box.mbox#1 › p.xlsx"]
def test_a_slow_file_is_stopped_at_its_own_deadline(returns, baseline, tmp_path):
    """A parse that never ends (the injected parser sleeps an hour on a marked workbook, alone and inside a
    mail) is stopped at its own 5-second limit and becomes that file's verdict; the returns around it are read.
    (A real slow input is machine- and library-dependent: a Subject of 60,000 encoded words that took the email
    package minutes is no longer decoded while reading, so it stopped proving anything.)"""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, data in returns.items():
        (inbox / f"{name}.xlsx").write_bytes(data)
    (inbox / "slow.xlsx").write_bytes(stored(returns["bgs"], b"SLOW-ME"))
    (inbox / "2-slow.eml").write_bytes(mail_of(stored(returns["kfc"], b"SLOW-ME"), "s.xlsx", "s@x.cn", 9, 6))
    _, totals, rows = collect([inbox], tmp_path / "out.xlsx", ASSESS_XL_FILE_SECONDS="5",
                              PYTHONPATH=injected_pythonpath(tmp_path))
    assert totals == baseline
    said = {row["文件"]: row["说明"] for row in rows}
    assert "超过5秒" in said["inbox/slow.xlsx"]
    assert "超过5秒" in said["inbox/2-slow.eml › s.xlsx"]




COUNTED = '''
import os
from assess_xl.read import mail

real = mail.unpack


def unpack(kind, data, name, *rest):
    with open(os.environ["UNPACK_LOG"], "a", encoding="utf-8") as log:
        log.write(name + "\\n")
    return real(kind, data, name, *rest)


mail.unpack = unpack
'''


def test_a_message_with_one_workbook_is_unpacked_once(returns, baseline, tmp_path):
    """A mail (alone, or in a mailbox) with one workbook is unpacked and its workbook read in the same child;
    a mail with two is unpacked once more per workbook, each read on its own (so each has its own verdict)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "bgs.eml").write_bytes(good_mails(returns)[0])
    (inbox / "box.mbox").write_bytes(mbox([good_mails(returns)[1]]))
    both = message([attachment(returns["bgs"], 'attachment; filename="a.xlsx"'),
                    attachment(returns["kfc"], 'attachment; filename="b.xlsx"')], "Mon, 09 Jan 2008 09:00:00 +0800",
                   sender="zhc@example.cn", message_id="<3@example.cn>")
    (inbox / "both.eml").write_bytes(both)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(COUNTED)
    log = tmp_path / "unpacked.txt"
    _, totals, _ = collect([inbox], tmp_path / "out.xlsx", UNPACK_LOG=str(log),
                           PYTHONPATH=os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH", "")])))
    assert totals == baseline
    unpacked = sorted(line.rsplit("/", 1)[-1] for line in log.read_text(encoding="utf-8").split())
    assert unpacked == ["bgs.eml", "both.eml", "both.eml", "both.eml", "box.mbox#1"]
