"""send keeps its word: every message is logged as the SMTP server accepts it, so that no run, however
it ends (killed, a server refusing QUIT or dropping the connection, a log that stops taking rows),
resends what was delivered. Real aiosmtpd servers, some misbehaving; the real console script where a
run must be killed or limited."""
import os
import resource
import signal
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from assess_xl.cli import main
from smtp_servers import Collector, Running

EXE = Path(sys.executable).parent / "assess-xl"


@pytest.fixture
def year(book, tmp_path):
    """Forms for two districts and a contacts file giving every department an address."""
    assert CliRunner().invoke(main, ["forms", "--districts", "甲区,乙区", "-o", str(tmp_path / "forms")]).exit_code == 0
    contacts = tmp_path / "通讯录.csv"
    contacts.write_text("部门,联系人,邮箱\n" + "".join(f"{d},,d{n}@example.cn\n" for n, d in enumerate(book.departments)),
                        encoding="utf-8")
    return tmp_path, contacts


@pytest.fixture
def serve():
    started = []

    def start(**misbehaviour) -> Running:
        started.append(Running(Collector(**misbehaviour)))
        return started[-1]

    yield start
    for running in started:
        running.stop()


def args(folder: Path, contacts: Path, server: str) -> list[str]:
    return ["send", "forms", "--forms", str(folder / "forms"), "--contacts", str(contacts), "--from",
            "市环保局综合处 <zhc@example.cn>", "--outbox", str(folder / "out"), "--smtp", server]


def subjects(running: Running) -> list[str]:
    return [message_from_bytes(content, policy=policy.default)["Subject"] for _, _, content in running.handler.received]


def logged(folder: Path) -> str:
    return (folder / "out" / "发送记录.csv").read_text(encoding="utf-8-sig")


def forms_count(folder: Path) -> int:
    return len(list((folder / "forms").glob("*-*.xlsx"))) - 1  # one per department, not the full workbook


def test_quit_refused_with_500_is_not_a_failure(year, serve):
    folder, contacts = year
    server = serve(quit_reply="500 5.0.0 go away")
    result = CliRunner().invoke(main, args(folder, contacts, server.address))
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert "结束会话时回应异常（服务器回应 500 5.0.0 go away）" in result.output
    assert len(server.handler.received) == forms_count(folder)
    assert logged(folder).count(",已发送,") == forms_count(folder)
    again = CliRunner().invoke(main, args(folder, contacts, server.address))
    assert again.exit_code == 0 and len(server.handler.received) == forms_count(folder)  # nothing resent


def test_connection_dropped_mid_run(year, serve):
    folder, contacts = year
    dropping = serve(drop_after=3)
    result = CliRunner().invoke(main, args(folder, contacts, dropping.address))
    assert result.exit_code == 1 and "与SMTP服务器的连接中断" in result.output and "Traceback" not in result.output
    assert len(dropping.handler.received) == 3 and logged(folder).count(",已发送,") == 3
    good = serve()
    again = CliRunner().invoke(main, args(folder, contacts, good.address))
    assert again.exit_code == 0, again.output
    assert sorted(subjects(dropping) + subjects(good)) == sorted(set(subjects(dropping) + subjects(good)))
    assert len(good.handler.received) == forms_count(folder) - 3


def test_run_killed_mid_way_leaves_delivered_mail_logged(year, serve):
    folder, contacts = year
    stalling = serve(stall_after=2)
    run = subprocess.Popen([EXE, *args(folder, contacts, stalling.address)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    try:
        assert stalling.handler.stalled.wait(60), "the third message never reached the server"
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(30)
    assert logged(folder).count(",已发送,") == 2
    good = serve()
    again = subprocess.run([EXE, *args(folder, contacts, good.address)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert not set(subjects(stalling)) & set(subjects(good))
    assert len(good.handler.received) == forms_count(folder) - 2


def test_unwritable_log_refuses_before_sending(year, serve):
    folder, contacts = year
    server = serve()
    (folder / "out" / "发送记录.csv").mkdir(parents=True)
    result = CliRunner().invoke(main, args(folder, contacts, server.address))
    assert result.exit_code == 2 and "没有发送任何邮件" in result.output and "Traceback" not in result.output
    assert server.handler.received == []


@pytest.mark.skipif(not os.path.exists("/dev/full") and os.environ.get("CI") != "true",
                    reason="needs /dev/full to stand for a full disk")
def test_full_disk_refuses_before_sending(year, serve):
    folder, contacts = year
    server = serve()
    (folder / "out").mkdir()
    (folder / "out" / "发送记录.csv").symlink_to("/dev/full")
    result = CliRunner().invoke(main, args(folder, contacts, server.address))
    assert result.exit_code == 2 and "发送记录" in result.output and "（磁盘已满）" in result.output
    assert server.handler.received == []
    drafts = CliRunner().invoke(main, args(folder, contacts, server.address)[:-2])
    assert drafts.exit_code == 2 and not list((folder / "out").glob("*.eml"))


def test_log_that_stops_taking_rows_stops_the_run(year, serve):
    """A file-size limit makes the log refuse its first row after the first message is accepted."""
    folder, contacts = year
    server = serve()
    out = folder / "out"
    out.mkdir()
    header = "\ufeff时间,部门,邮箱,主题,Message-ID,结果,标识\r\n".encode()
    (out / "发送记录.csv").write_bytes(header)

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(header) + 10, len(header) + 10))

    run = subprocess.run([EXE, *args(folder, contacts, server.address)], capture_output=True, text=True, timeout=120,
                         preexec_fn=limit_file_size)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "写入失败（文件超过系统允许的大小），已停止发送" in run.stderr and "办公室（<" in run.stderr
    assert len(server.handler.received) == 1


def test_empty_log_is_no_log(year, serve):
    folder, contacts = year
    server = serve()
    (folder / "out").mkdir()
    (folder / "out" / "发送记录.csv").write_bytes(b"")
    assert CliRunner().invoke(main, args(folder, contacts, server.address)).exit_code == 0
    assert logged(folder).startswith("时间,部门,邮箱,主题,Message-ID,结果,标识\n")
    assert CliRunner().invoke(main, args(folder, contacts, server.address)).exit_code == 0
    assert len(server.handler.received) == forms_count(folder)  # nobody mailed twice


def test_ten_thousand_recipients(book, year, serve):
    folder, _ = year
    server = serve()
    contacts = folder / "多人.csv"
    many = "; ".join(f"p{n}@example.cn" for n in range(10_000))
    contacts.write_text(f"部门,联系人,邮箱\n开发处,,{many}\n", encoding="utf-8")
    command = args(folder, contacts, server.address)
    assert CliRunner().invoke(main, command).exit_code == 1  # the other departments have no address
    ((_, recipients, _),) = server.handler.received
    assert len(recipients) == 10_000 and logged(folder).count(",已发送,") == 10_000
    again = CliRunner().invoke(main, command)
    assert again.exit_code == 1 and "Traceback" not in again.output and "都已发送过" in again.output
    assert len(server.handler.received) == 1
