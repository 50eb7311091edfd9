"""fetch against a real IMAP server: Dovecot, started here on 127.0.0.1 with a throwaway configuration."""

import pytest
from click.testing import CliRunner

from assess_xl.cli import main
from assess_xl.demo import fill_workbook
from dovecot import TLS, append, flags, needs_dovecot
from fakeimap import message
from helpers import write_forms
from helpers import read_paths

pytestmark = needs_dovecot


def test_fetch_downloads_what_is_new_and_leaves_the_server_alone(book, tmp_path, dovecot, monkeypatch):
    blank = write_forms(book, ["甲区", "乙区"], tmp_path / "blank")
    fill_workbook(blank["开发处"], tmp_path / "first.xlsx", {"开发处": {"6-1": {"甲区": "1", "乙区": "0"}}})
    fill_workbook(blank["开发处"], tmp_path / "again.xlsx", {"开发处": {"6-1": {"甲区": "4", "乙区": "0"}}})
    append(dovecot, message((tmp_path / "first.xlsx").read_bytes(), "开发处填报", "Mon, 07 Jan 2008 09:00:00 +0800",
                            "<a@x>", "开发处-填报表.xlsx"))
    append(dovecot, message(None, "会议通知", "Mon, 07 Jan 2008 10:00:00 +0800", "<b@x>"))
    monkeypatch.setenv("ASSESS_XL_IMAP_PASSWORD", "secret")
    args = ["fetch", "--host", "127.0.0.1", "--port", str(dovecot), "--user", "zhc", "--security", "plain",
            "-o", str(tmp_path / "收件箱")]
    before = flags(dovecot)
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0 and "收到1封带工作簿的新邮件" in first.output
    assert "另有1封新邮件没有工作簿附件" in first.output
    assert [p.name for p in (tmp_path / "收件箱").glob("*.eml")] and len(list((tmp_path / "收件箱").glob("*.eml"))) == 1
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0 and "没有新邮件。" in second.output and "0封" not in second.output
    assert flags(dovecot) == before  # nothing marked seen, nothing moved or deleted
    append(dovecot, message((tmp_path / "again.xlsx").read_bytes(), "开发处填报（更正）", "Tue, 08 Jan 2008 09:00:00 +0800",
                            "<c@x>"))
    third = CliRunner().invoke(main, args)
    assert "收到1封" in third.output
    result = read_paths([tmp_path / "收件箱"], book)
    assert result.values.loc["甲区", "6-1"] == 4  # the later mail wins
    collected = CliRunner().invoke(main, ["collect", str(tmp_path / "收件箱"), "-o", str(tmp_path / "结果.xlsx")])
    assert collected.exit_code in (0, 1) and "已检查的邮件" not in collected.output  # fetch's record is no input
    assert any("开发处-填报表.xlsx" in f.info.name for f in result.files)
    for path in (tmp_path / "收件箱").iterdir():
        assert b"secret" not in path.read_bytes()


def test_wrong_password_is_one_line(tmp_path, dovecot, monkeypatch):
    monkeypatch.setenv("ASSESS_XL_IMAP_PASSWORD", "wrong")
    result = CliRunner().invoke(main, ["fetch", "--host", "127.0.0.1", "--port", str(dovecot), "--user", "zhc",
                                       "--security", "plain", "-o", str(tmp_path / "in")])
    assert result.exit_code == 2 and "登录失败" in result.output


def test_a_whole_cycle_by_mail(book, tmp_path, dovecot, monkeypatch):
    """send forms (SMTP) → the attachments are filled → the filled copies arrive in the mailbox (one
    GBK-named, one inside a zip, one re-sent later with a changed value) → fetch → collect: the same
    scores as the cycle with plain files, except the re-sent value, which wins as the later mail."""
    import io
    import socket as sockets
    import zipfile
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller
    received = []

    class Keep:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content)
            return "250 OK"
    with sockets.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    runner = CliRunner()
    try:
        assert runner.invoke(main, ["forms", "--districts", "甲区,乙区", "-o", str(tmp_path / "forms")]).exit_code == 0
        (tmp_path / "通讯录.csv").write_text("部门,联系人,邮箱\n开发处,,kfc@x.cn\n办公室,,bgs@x.cn\n调研室,,dys@x.cn\n",
                                          encoding="utf-8")
        sent = runner.invoke(main, ["send", "forms", "--forms", str(tmp_path / "forms"), "--contacts",
                                    str(tmp_path / "通讯录.csv"), "--from", "zhc@x.cn", "--outbox", str(tmp_path / "out"),
                                    "--smtp", f"127.0.0.1:{smtp_port}"])
        assert sent.exit_code == 1 and len(received) == 3  # exit 1: the other departments have no address
    finally:
        controller.stop()
    forms = {}
    for raw in received:
        parsed = message_from_bytes(raw, policy=policy.default)
        ((attachment),) = list(parsed.iter_attachments())
        forms[attachment.get_filename()] = attachment.get_content()
    entries = {"开发处": {"6-1": {"甲区": "1", "乙区": "0"}}, "办公室": {"1-1": {"甲区": "是", "乙区": "否"}},
               "调研室": {"16-1": {"甲区": "48", "乙区": "24"}}}
    plain = tmp_path / "plain"
    plain.mkdir()
    filled = {}
    for department, codes in entries.items():
        name = f"2007年度目标考核填报表-{department}.xlsx"
        fill_workbook(forms[name], plain / name, {department: codes})
        filled[department] = (plain / name).read_bytes()
    fill_workbook(forms["2007年度目标考核填报表-开发处.xlsx"], tmp_path / "re-sent.xlsx",
                  {"开发处": {"6-1": {"甲区": "3", "乙区": "0"}}})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("调研室.xlsx", filled["调研室"])
    append(dovecot, message(filled["开发处"], "开发处", "Mon, 07 Jan 2008 09:00:00 +0800", "<k1@x>", "开发处-填报表.xlsx"))
    append(dovecot, message(filled["办公室"], "办公室", "Mon, 07 Jan 2008 10:00:00 +0800", "<b1@x>", "办公室.xlsx"))
    append(dovecot, message(archive.getvalue(), "调研室", "Mon, 07 Jan 2008 11:00:00 +0800", "<d1@x>", "调研室.zip"))
    append(dovecot, message((tmp_path / "re-sent.xlsx").read_bytes(), "开发处（更正）", "Wed, 09 Jan 2008 09:00:00 +0800",
                            "<k2@x>", "开发处-更正.xlsx"))
    monkeypatch.setenv("ASSESS_XL_IMAP_PASSWORD", "secret")
    fetched = runner.invoke(main, ["fetch", "--host", "127.0.0.1", "--port", str(dovecot), "--user", "zhc",
                                   "--security", "plain", "-o", str(tmp_path / "收件箱")])
    assert fetched.exit_code == 0 and "收到4封" in fetched.output
    by_mail = read_paths([tmp_path / "收件箱"], book).values
    by_files = read_paths([plain], book).values
    assert by_mail.loc["甲区", "6-1"] == 3 and by_files.loc["甲区", "6-1"] == 1
    by_files.loc["甲区", "6-1"] = 3
    assert by_mail.equals(by_files)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_imaps_and_starttls_with_the_units_own_certificate(book, tmp_path, dovecot, monkeypatch, security):
    blank = write_forms(book, ["甲区", "乙区"], tmp_path / "blank")
    fill_workbook(blank["开发处"], tmp_path / "a.xlsx", {"开发处": {"6-1": {"甲区": "2", "乙区": "0"}}})
    append(dovecot, message((tmp_path / "a.xlsx").read_bytes(), "开发处", "Mon, 07 Jan 2008 09:00:00 +0800", "<t@x>"))
    tls_port, certificate = TLS[dovecot]
    port = tls_port if security == "ssl" else dovecot
    monkeypatch.setenv("ASSESS_XL_IMAP_PASSWORD", "secret")
    args = ["fetch", "--host", "127.0.0.1", "--port", str(port), "--user", "zhc", "--security", security,
            "-o", str(tmp_path / "in")]
    untrusted = CliRunner().invoke(main, args)
    assert untrusted.exit_code == 2 and "--cafile" in untrusted.output and "自签证书" in untrusted.output
    assert "self-signed" not in untrusted.output and "Error" not in untrusted.output
    trusted = CliRunner().invoke(main, [*args, "--cafile", str(certificate)])
    assert trusted.exit_code == 0 and "收到1封" in trusted.output
