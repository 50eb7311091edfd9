"""fetch against IMAP servers that lie (tests/fakeimap.py): each hostile message ends in its own
verdict within the run's timeout, the good returns around it are all saved, nothing is a traceback.
Run through the installed `assess-xl` console script, with a 1-second --timeout."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from assess_xl.demo import fill_workbook
from assess_xl.xlsx.layout import FETCH_RECORD
from fakeimap import Message, lying_server, message
from helpers import write_forms
from helpers import read_paths

SCRIPT = Path(sys.executable).with_name("assess-xl")
DATE = "Mon, 07 Jan 2008 09:00:00 +0800"


@pytest.fixture(scope="module")
def returns(tmp_path_factory, book):
    """Three filled returns (开发处, 办公室, 调研室) as workbook bytes."""
    folder = tmp_path_factory.mktemp("returns")
    blank = write_forms(book, ["甲区", "乙区"], folder / "blank")
    entries = {"开发处": {"6-1": {"甲区": "1", "乙区": "0"}}, "办公室": {"1-1": {"甲区": "是", "乙区": "否"}},
               "调研室": {"16-1": {"甲区": "48", "乙区": "24"}}}
    filled = {}
    for department, codes in entries.items():
        fill_workbook(blank[department], folder / f"{department}.xlsx", {department: codes})
        filled[department] = (folder / f"{department}.xlsx").read_bytes()
    return filled


def fetch(port, out: Path, *extra, timeout="1"):
    env = {**os.environ, "ASSESS_XL_IMAP_PASSWORD": "secret"}
    return subprocess.run([str(SCRIPT), "fetch", "--host", "127.0.0.1", "--port", str(port), "--user", "zhc",
                           "--security", "plain", "--timeout", timeout, "-o", str(out), *extra],
                          capture_output=True, text=True, env=env, timeout=120)


def good(returns, department, number):
    return Message(message(returns[department], f"{department}填报", DATE, f"<{number}@x>", f"{department}.xlsx"))


def deeply_nested(depth: int = 1200) -> bytes:
    lines = [b"From: x@evil.cn", b"Subject: deep", f"Date: {DATE}".encode(), b"Message-ID: <deep@x>",
             b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="b0"', b""]
    for level in range(depth):
        lines += [f"--b{level}".encode(), f'Content-Type: multipart/mixed; boundary="b{level + 1}"'.encode(), b""]
    lines += [f"--b{depth}".encode(), b"Content-Type: text/plain", b"", b"x"]
    lines += [f"--b{level}--".encode() for level in range(depth, -1, -1)]
    return b"\r\n".join(lines) + b"\r\n"


def encoded_word_subject(returns) -> bytes:
    """A return whose Subject is 315 KB of encoded words (decoding it costs gigabytes)."""
    raw = message(returns["调研室"], "x", DATE, "<subject@x>", "调研室.xlsx")
    subject = b" ".join([b"=?utf-8?b?5Lit5paH?="] * 15_000)
    return raw.replace(b"Subject: x", b"Subject: " + subject, 1)


HOSTILE = {
    "huge_literal": ("UID 2 的邮件没有收到", "超过上限50 MB"),
    "endless": ("UID 2 的邮件没有收到", "远超正常长度"),
    "drip": ("UID 2 的邮件没有收到", "1秒内没有完成应答"),
    "oversize": ("UID 2 的邮件有2048 MB", "没有下载"),
    "temporary_no": ("UID 2 的邮件没有收到：服务器暂时没有提供这封邮件（答复NO）", "下次运行 fetch 时会再试"),
    "deep": ("UID 2 的邮件（发件人：x@evil.cn，主题：deep", "嵌套过深"),
    "subject": ("UID 2 的邮件", "邮件头异常过长"),
}


def hostile(kind, returns) -> Message:
    if kind == "deep":
        return Message(deeply_nested())
    if kind == "subject":
        return Message(encoded_word_subject(returns))
    return Message(message(returns["调研室"], "调研室填报", DATE, "<hostile@x>", "调研室.xlsx"), kind)


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_one_lying_message_costs_only_itself(kind, returns, book, tmp_path):
    messages = [good(returns, "开发处", 1), hostile(kind, returns), good(returns, "办公室", 3)]
    inbox = tmp_path / "收件箱"
    with lying_server(messages) as port:
        timeout = "60" if kind == "endless" else "1"  # the endless answer is stopped by its size, not by time
        first = fetch(port, inbox, timeout=timeout)
        saved = sorted(p.name for p in inbox.glob("*.eml"))
        again = fetch(port, inbox, timeout=timeout)
    assert "Traceback" not in first.stderr + again.stderr
    assert first.returncode == 1 and "收到2封带工作簿的新邮件" in first.stdout
    for expected in HOSTILE[kind]:
        assert expected in first.stderr
    assert len(saved) == 2 and all("kfc@example.cn" in name for name in saved)
    read = read_paths([inbox], book)  # after the second run
    alone = tmp_path / "alone"
    alone.mkdir()
    for department in ("开发处", "办公室", "调研室") if kind == "temporary_no" else ("开发处", "办公室"):
        (alone / f"{department}.xlsx").write_bytes(returns[department])
    assert read.values.equals(read_paths([alone], book).values)  # the same totals as the good returns alone
    assert not [s for s in read.skipped if FETCH_RECORD in s.name]  # fetch's bookkeeping is not an input
    if kind == "temporary_no":  # not marked read: the next run gets it
        assert again.returncode == 0 and "收到1封带工作簿的新邮件" in again.stdout
        assert len(list(inbox.glob("*.eml"))) == 3
    elif kind in ("deep", "subject"):  # read and refused once: not downloaded again
        assert again.returncode == 0 and "没有新邮件" in again.stdout
    else:  # not delivered by the server: named again on every run
        assert again.returncode == 1 and HOSTILE[kind][0] in again.stderr


def test_the_same_message_id_and_date_twice_keeps_both(returns, book, tmp_path):
    first = message(returns["开发处"], "开发处填报", DATE, "<same@x>", "开发处.xlsx")
    other = write_forms(book, ["甲区", "乙区"], tmp_path / "blank")
    fill_workbook(other["开发处"], tmp_path / "other.xlsx", {"开发处": {"6-1": {"甲区": "4", "乙区": "0"}}})
    second = message((tmp_path / "other.xlsx").read_bytes(), "开发处填报", DATE, "<same@x>", "开发处.xlsx")
    inbox = tmp_path / "收件箱"
    with lying_server([Message(first), Message(second), Message(first)]) as port:  # the last: the first again
        result = fetch(port, inbox)
        rerun = fetch(port, inbox)
    assert result.returncode == 0 and "收到2封带工作簿的新邮件" in result.stdout
    assert "1封新邮件以前已经保存过" in result.stdout
    assert rerun.returncode == 0 and "没有新邮件" in rerun.stdout and "0封" not in rerun.stdout
    assert len(list(inbox.glob("*.eml"))) == 2
    read = read_paths([inbox], book)
    assert len([f for f in read.files if "开发处.xlsx" in f.info.name]) == 2


def test_names_say_the_department_when_contacts_are_given(returns, tmp_path):
    contacts = tmp_path / "通讯录.csv"
    contacts.write_text("部门,联系人,邮箱\n开发处,,KFC@example.cn\n", encoding="utf-8")
    with lying_server([good(returns, "开发处", 1)]) as port:
        result = fetch(port, tmp_path / "收件箱", "--contacts", str(contacts))
    assert result.returncode == 0
    (name,) = [p.name for p in (tmp_path / "收件箱").glob("*.eml")]
    assert name.startswith("20080107-") and "-开发处-" in name


def test_an_unwritable_record_stops_before_downloading(returns, tmp_path):
    inbox = tmp_path / "收件箱"
    (inbox / FETCH_RECORD).mkdir(parents=True)  # a folder where the record file should be
    with lying_server([good(returns, "开发处", 1)]) as port:
        result = fetch(port, inbox)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "无法写入已检查邮件的记录" in result.stderr and "同名的是一个文件夹" in result.stderr
    assert not list(inbox.glob("*.eml"))


def test_connection_failures_are_explained_in_chinese(returns, tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = fetch(port, tmp_path / "a")
    assert refused.returncode == 2 and "拒绝了端口" in refused.stderr
    with socket.socket() as silent:  # accepts connections and never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        mute = fetch(silent.getsockname()[1], tmp_path / "b")
    assert mute.returncode == 2 and "1秒内没有完成应答" in mute.stderr
    with lying_server([good(returns, "开发处", 1)]) as port:
        env = {**os.environ, "ASSESS_XL_IMAP_PASSWORD": "wrong"}
        wrong = subprocess.run([str(SCRIPT), "fetch", "--host", "127.0.0.1", "--port", str(port), "--user", "zhc",
                                "--security", "plain", "-o", str(tmp_path / "c")], capture_output=True, text=True,
                               env=env, timeout=120)
    assert wrong.returncode == 2 and "登录失败" in wrong.stderr
    for result in (refused, mute, wrong):
        assert "Traceback" not in result.stderr and "Errno" not in result.stderr and "Error" not in result.stderr


def test_a_folder_fetched_by_the_earlier_version_is_not_downloaded_twice(returns, tmp_path):
    """The earlier version named a message by its date and a hash of its Message-ID."""
    import hashlib
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    raw = message(returns["开发处"], "开发处填报", DATE, "<1@x>", "开发处.xlsx")
    (inbox / f"20080107-090000-{hashlib.sha256(b'<1@x>').hexdigest()[:12]}.eml").write_bytes(raw)
    with lying_server([Message(raw), good(returns, "办公室", 2)]) as port:
        result = fetch(port, inbox)
    assert result.returncode == 0 and "收到1封带工作簿的新邮件" in result.stdout
    assert "1封新邮件以前已经保存过" in result.stdout and len(list(inbox.glob("*.eml"))) == 2
