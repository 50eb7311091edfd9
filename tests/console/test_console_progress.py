"""收件 with progress: each file's verdict streamed (server-sent events) as it is read."""
import io
import re
import zipfile

import pytest

from console.fixtures import CSRF_QUERY, settle

pytestmark = pytest.mark.usefixtures("private_config")


def events(client, response) -> list[str]:
    """The job's event stream, read to its end: each data line in order."""
    job_id = str(response.url).rsplit("/", 1)[1]
    stream = client.get(f"/jobs/{job_id}/events")
    assert stream.headers["content-type"].startswith("text/event-stream")
    blocks = [block for block in stream.text.split("\n\n") if block.startswith("data: ")]  # not `event: done`
    return [block[len("data: "):] for block in blocks]


def test_every_file_read_is_a_line_of_progress_before_the_summary(client, year, demo_returns):
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:  # a container: its member is read in the next round
        archive.writestr("开发处-压缩.xlsx", demo_returns[1].read_bytes())
    files = [("files", (p.name, p.read_bytes())) for p in demo_returns[:3]]
    files += [("files", ("坏了的表.xlsx", b"PK\x03\x04 broken")), ("files", ("打包.zip", packed.getvalue()))]
    response = client.post(f"/inbox/upload?{CSRF_QUERY}", files=files)
    lines = events(client, response)
    verdicts = [line for line in lines if re.match(r"第\d+个文件 ", line)]
    assert [int(re.match(r"第(\d+)个", line).group(1)) for line in verdicts] == list(range(1, len(verdicts) + 1))
    for returned in demo_returns[:3]:
        assert any(line.endswith(f"{returned.name}：已读取") for line in verdicts), verdicts
    assert any("坏了的表.xlsx：已拒绝：" in line for line in verdicts)
    assert any("打包.zip › 开发处-压缩.xlsx：" in line for line in verdicts)
    summary = next(n for n, line in enumerate(lines) if line.startswith("已读取"))
    assert summary > lines.index(verdicts[-1])  # each verdict came before the run's summary


# ---- fetching from the mailbox (a real Dovecot, as the command line's fetch tests use) ----------------

from dovecot import append, flags, needs_dovecot  # noqa: E402  (the `dovecot` fixture: conftest's plugin)
from fakeimap import message  # noqa: E402


def fetch(client, password: str):
    response = client.post(f"/inbox/fetch?{CSRF_QUERY}", data={"password": password})
    return response, events(client, response), client.app.state.console.jobs.running


@needs_dovecot
def test_mail_fetched_into_the_inbox_with_progress_then_read(client, year, book, demo_returns, dovecot):
    department = demo_returns[0].name.split("-")[0]
    n = book.departments.index(department)
    client.post(f"/settings/contacts?{CSRF_QUERY}", data={f"emails-{n}": "kfc@example.cn"})
    client.post(f"/settings/general?{CSRF_QUERY}", data={"imap_host": f"127.0.0.1:{dovecot}", "imap_security": "plain",
                                                        "imap_user": "zhc", "imap_folder": "INBOX"})
    assert 'type="password" name="password"' in settle(client, client.get("/inbox")).text
    append(dovecot, message(demo_returns[0].read_bytes(), f"{department}填报", "Mon, 07 Jan 2008 09:00:00 +0800",
                            "<a@x>", f"{department}-填报表.xlsx"))
    append(dovecot, message(None, "会议通知", "Mon, 07 Jan 2008 10:00:00 +0800", "<b@x>"))
    before = flags(dovecot)

    wrong = client.post(f"/inbox/fetch?{CSRF_QUERY}", data={"password": "wrong"})
    lines = events(client, wrong)
    assert client.app.state.console.jobs.running.failed and "登录失败" in lines[-1]
    assert not list(year.inbox.glob("*.eml"))

    _, lines, job = fetch(client, "secret")
    assert not job.failed, job.lines
    assert "已下载第1封，共2封新邮件" in lines and "已下载第2封，共2封新邮件" in lines
    assert "另有1封新邮件没有工作簿附件，以后不再下载。" in lines
    saved = list(year.inbox.glob("*.eml"))
    assert len(saved) == 1 and department in saved[0].name  # named by the contacts' department
    assert any(line.endswith(f"{department}-填报表.xlsx：已读取") for line in lines)  # then read, file by file
    assert lines.index(next(line for line in lines if line.startswith("收到1封"))) < len(lines) - 1
    page = client.get("/inbox")
    assert f"{department}-填报表.xlsx" in page.text and "收到1封带工作簿的新邮件" in page.text
    assert flags(dovecot) == before  # read-only: nothing marked seen, moved or deleted
    for path in year.root.rglob("*"):
        assert not path.is_file() or b"secret" not in path.read_bytes(), path

    _, lines, job = fetch(client, "secret")
    assert "没有新邮件。" in lines and len(list(year.inbox.glob("*.eml"))) == 1


def test_fetching_without_a_mail_server_says_where_to_set_one(client, year):
    page = settle(client, client.post(f"/inbox/fetch?{CSRF_QUERY}", data={"password": "x"}))
    assert page.url.path == "/inbox" and "请在“设置”页填写IMAP服务器" in page.text
    assert "还没有填写IMAP服务器和用户名" in page.text and 'name="password"' not in page.text
