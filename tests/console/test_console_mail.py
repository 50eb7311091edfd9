"""Mail sent from the console through a real SMTP server (aiosmtpd on 127.0.0.1): forms to every
department, a reminder to one, return copies as drafts; the send log written as `send` writes it, the
password used once and kept nowhere, and nothing sent twice by either face."""
from email import message_from_bytes, policy

import pytest
from click.testing import CliRunner

from assess_xl.cli import main
from console.fixtures import CSRF_QUERY, settle
from smtp_servers import Collector, Running, password_check

pytestmark = pytest.mark.usefixtures("private_config")
SENDER = "市环保局综合处 <zhc@hbj.gov.cn>"


@pytest.fixture
def serve():
    started = []

    def start(**options) -> Running:
        started.append(Running(Collector(), **options))
        return started[-1]

    yield start
    for running in started:
        running.stop()


def prepare(client, book, server: str = "", user: str = "") -> None:
    """Every department an address, the sender, the deadline and the SMTP server in 设置."""
    client.post(f"/settings/contacts?{CSRF_QUERY}",
                data={f"emails-{n}": f"d{n}@hbj.gov.cn" for n in range(len(book.departments))})
    client.post(f"/settings/general?{CSRF_QUERY}", data={"sender": SENDER, "deadline": "1月20日",
                                                        "smtp_server": server, "smtp_user": user})


def send(client, kind: str, **fields):
    """POST the send form; the job's page is followed to its end. Returns (page after, job)."""
    response = client.post(f"/mail/{kind}/send?{CSRF_QUERY}", data=fields)
    assert "/jobs/" in str(response.url)  # the progress page
    console = client.app.state.console
    console.jobs.wait()
    job = console.jobs.running
    return client.get(job.then), job


def log_rows(path) -> list[list[str]]:
    import csv
    return list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))


def subjects(server: Running) -> list[str]:
    return [message_from_bytes(content, policy=policy.default)["Subject"] for _, _, content in server.handler.received]


def test_forms_go_to_every_department_logged_as_send_logs_them_and_never_twice(client, year, book, serve, tmp_path):
    server = serve()
    settle(client, client.post(f"/forms/generate?{CSRF_QUERY}"))
    prepare(client, book, server.address)
    departments = [d for d in book.departments if book.department_indicators(d)]
    before = client.get("/mail/forms")
    assert before.text.count("<td class=\"waiting\">待发送</td>") == len(departments)
    assert f"通过SMTP发送（{len(departments)}封）" in before.text

    page, job = send(client, "forms", how="smtp")
    assert not job.failed, job.lines
    assert page.url.path == "/mail/forms" and f"已发送{len(departments)}封邮件。" in page.text
    assert f"第1封，共{len(departments)}封：" in job.lines[1] and "已发送" in job.lines[1]  # each message as it goes
    assert len(server.handler.received) == len(departments)
    assert sorted(subjects(server)) == sorted(f"【请填报】2007年度目标考核填报表（{d}）" for d in departments)

    # the command line on the same forms and contacts writes the same log, but for the time and Message-ID
    other = serve()
    cli = CliRunner().invoke(main, ["send", "forms", "--forms", str(year.forms_dir), "--contacts", str(year.contacts_path),
                                    "--from", SENDER, "--deadline", "1月20日", "--outbox", str(tmp_path / "cli"),
                                    "--smtp", other.address])
    assert cli.exit_code == 0, cli.output
    ours, theirs = log_rows(year.send_log), log_rows(tmp_path / "cli" / "发送记录.csv")
    assert ours[0] == theirs[0] == ["时间", "部门", "邮箱", "主题", "Message-ID", "结果", "标识"]
    assert sorted(r[1:4] + r[5:] for r in ours[1:]) == sorted(r[1:4] + r[5:] for r in theirs[1:])
    assert len(ours) == len(departments) + 1

    # a rerun sends nothing twice, from the console or from the command line on the year's outbox
    again, job = send(client, "forms", how="smtp")
    assert "没有需要发送的邮件（都已发送过，见发送记录）。" in again.text and not job.failed
    cli = CliRunner().invoke(main, ["send", "forms", "--forms", str(year.forms_dir), "--contacts", str(year.contacts_path),
                                    "--from", SENDER, "--outbox", str(year.outbox), "--smtp", server.address])
    assert cli.exit_code == 0 and "都已发送过" in cli.output
    assert len(server.handler.received) == len(departments)
    assert "已发送过（见发送记录），不会重发" in again.text and "待发送</td>" not in again.text


@pytest.fixture
def filled(client, year, demo_returns):
    files = [("files", (p.name, p.read_bytes())) for p in demo_returns]
    settle(client, client.post(f"/inbox/upload?{CSRF_QUERY}", files=files))
    return year


def test_a_reminder_to_one_department_with_the_password_asked_then_kept_nowhere(client, filled, book, serve):
    server = serve(**password_check("zhc", "s3cret-pw"))
    prepare(client, book, server.address, user="zhc")
    console = client.app.state.console
    settle(client, client.get("/status"))
    owing = console.board(book, console.run()).owing
    department = owing[0]
    page = client.get("/mail/remind", params={"department": department})
    assert 'type="password" name="password"' in page.text and page.text.count("待发送</td>") == 1

    wrong, job = send(client, "remind", how="smtp", password="wrong", department=department)
    assert job.failed and "用户名或密码错误" in job.lines[-1] and not server.handler.received
    assert not filled.send_log.is_file() or ",已发送," not in filled.send_log.read_text(encoding="utf-8-sig")
    chinese, job = send(client, "remind", how="smtp", password="口令", department=department)  # smtplib: ASCII only
    assert job.failed and "用户名或密码含有中文等非英文字符" in job.lines[-1] and not server.handler.received

    done, job = send(client, "remind", how="smtp", password="s3cret-pw", department=department)
    assert not job.failed, job.lines
    address = f"d{book.departments.index(department)}@hbj.gov.cn"
    assert [rcpt for _, rcpt, _ in server.handler.received] == [[address]]
    assert subjects(server) == [f"【催报】2007年度目标考核填报（{department}）"]
    assert done.url.path == "/mail/remind" and "已发送1封邮件。" in done.text
    rows = log_rows(filled.send_log)
    assert [(r[1], r[2], r[5]) for r in rows[1:] if r[5] == "已发送"] == [(department, address, "已发送")]
    assert "s3cret" not in " ".join(job.lines)
    for path in filled.root.rglob("*"):  # the password is written nowhere in the year's folder
        assert not path.is_file() or "s3cret".encode() not in path.read_bytes(), path

    again, job = send(client, "remind", how="smtp", password="s3cret-pw", department=department)
    assert "都已发送过" in again.text and len(server.handler.received) == 1


def test_return_copies_to_all_that_owe_as_drafts_in_the_outbox(client, filled, book):
    prepare(client, book)
    console = client.app.state.console
    settle(client, client.get("/status"))
    owing = console.board(book, console.run()).owing
    page = client.get("/mail/returns")
    assert "还没有填写SMTP服务器" in page.text and "写成草稿存入发件箱" in page.text
    done, job = send(client, "returns", how="drafts")
    assert not job.failed, job.lines
    drafts = sorted(filled.outbox.glob("*.eml"))
    assert len(drafts) == len(owing) and f"已写出{len(owing)}封邮件草稿" in done.text
    for draft in drafts:
        message = message_from_bytes(draft.read_bytes(), policy=policy.default)
        assert message["X-Unsent"] == "1"
        assert [part.get_filename() for part in message.iter_attachments()][0].endswith(".xlsx")
    rows = log_rows(filled.send_log)
    assert {r[1] for r in rows[1:]} == set(owing) and {r[5] for r in rows[1:]} == {"已写成草稿"}


def test_sending_by_smtp_without_a_server_says_where_to_set_one(client, filled, book):
    prepare(client, book)
    settle(client, client.get("/status"))
    _, job = send(client, "remind", how="smtp")
    assert job.failed and "请在“设置”页填写SMTP服务器" in job.lines[-1]
    assert not list(filled.outbox.glob("*.eml"))


def test_an_unknown_kind_of_mail_is_no_page(client, year):
    assert client.get("/mail/spam").status_code == 404
