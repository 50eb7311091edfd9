"""Mail the coordinator sends: drafts by default, SMTP against a real server (aiosmtpd, in-process)."""
import os
from email import message_from_bytes, policy

import pytest
from click.testing import CliRunner

from assess_xl import outbox
from assess_xl.cli import main
from assess_xl.demo import fill_workbook


@pytest.fixture
def setup(book, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["forms", "--districts", "甲区,乙区", "-o", str(tmp_path / "forms")]).exit_code == 0
    assert runner.invoke(main, ["contacts-template", "-o", str(tmp_path / "通讯录")]).exit_code == 0
    contacts = tmp_path / "通讯录.csv"
    contacts.write_text("部门,联系人,邮箱\n开发处,王五,kfc@example.cn; kfc2@example.cn\n办公室,赵六,bgs@example.cn\n"
                        "调研室,,refuse@example.cn\n", encoding="utf-8")
    return tmp_path, contacts


class Collector:
    """An SMTP server's handler that keeps what it receives and refuses one address."""

    def __init__(self):
        self.received = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, f"127.0.0.1:{port}"
    finally:
        controller.stop()


def attachments(message):
    return [(part.get_filename(), part.get_content()) for part in message.iter_attachments()]


def test_template_lists_the_departments(book, setup):
    import openpyxl
    folder, _ = setup
    sheet = openpyxl.load_workbook(folder / "通讯录.xlsx").active
    assert [c.value for c in sheet[1]] == ["部门", "联系人", "邮箱"]
    assert [sheet.cell(r, 1).value for r in range(2, 2 + len(book.departments))] == list(book.departments)


def test_forms_as_drafts_by_default(setup):
    folder, contacts = setup
    result = CliRunner().invoke(main, ["send", "forms", "--forms", str(folder / "forms"), "--contacts", str(contacts),
                                       "--from", "zhc@example.cn", "--deadline", "1月15日", "--outbox", str(folder / "out")])
    assert result.exit_code == 0 and "3封邮件草稿" in result.output
    drafts = sorted((folder / "out").glob("*.eml"))
    messages = {m["Subject"]: m for m in (message_from_bytes(p.read_bytes(), policy=policy.default) for p in drafts)}
    kfc = messages["【请填报】2007年度目标考核填报表（开发处）"]
    assert kfc["To"] == "kfc@example.cn, kfc2@example.cn"
    assert "王五同志" in kfc.get_body().get_content() and "1月15日前" in kfc.get_body().get_content()
    ((name, content),) = attachments(kfc)
    assert name == "2007年度目标考核填报表-开发处.xlsx"
    raw = next(p for p in drafts if "开发处" in p.name).read_bytes()
    assert b'name="=?utf-8?b?' in raw and b"filename*=utf-8''" in raw  # both spellings, for Outlook and for the RFC
    assert content == (folder / "forms" / name).read_bytes()
    again = CliRunner().invoke(main, ["send", "forms", "--forms", str(folder / "forms"), "--contacts", str(contacts),
                                      "--from", "zhc@example.cn", "--outbox", str(folder / "out")])
    assert again.exit_code == 0 and len(list((folder / "out").glob("*.eml"))) == 3  # drafts are rewritten, not "sent"


def test_forms_through_smtp_with_a_refused_recipient(setup, smtp_server):
    folder, contacts = setup
    handler, server = smtp_server
    args = ["send", "forms", "--forms", str(folder / "forms"), "--contacts", str(contacts), "--from", "zhc@example.cn",
            "--outbox", str(folder / "out"), "--smtp", server]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "发送失败" in result.output and "调研室" in result.output
    assert len(handler.received) == 2
    by_subject = {message_from_bytes(c, policy=policy.default)["Subject"]: (r, message_from_bytes(c, policy=policy.default))
                  for _, r, c in handler.received}
    recipients, message = by_subject["【请填报】2007年度目标考核填报表（开发处）"]
    assert recipients == ["kfc@example.cn", "kfc2@example.cn"]
    ((name, content),) = attachments(message)
    assert content == (folder / "forms" / "2007年度目标考核填报表-开发处.xlsx").read_bytes()
    log = (folder / "out" / "发送记录.csv").read_text(encoding="utf-8-sig")
    assert log.count("已发送") == 2 and "失败" in log
    assert message["Message-ID"] in log
    again = CliRunner().invoke(main, args)  # a rerun sends only what failed
    assert len(handler.received) == 2 and again.exit_code == 1


def test_reminders_list_what_is_owed(book, setup, smtp_server):
    folder, contacts = setup
    handler, server = smtp_server
    inbox = folder / "inbox"
    inbox.mkdir()
    fill_workbook(folder / "forms" / "2007年度目标考核填报表-开发处.xlsx", inbox / "开发处.xlsx",
                  {"开发处": {"6-1": {"甲区": "1", "乙区": "两例"}, "7-1": {"甲区": "是", "乙区": "是"},
                             "7-2": {"甲区": "0", "乙区": "0"}, "7-3": {"甲区": "0"}}})
    result = CliRunner().invoke(main, ["send", "remind", str(inbox), "--contacts", str(contacts), "--from", "zhc@example.cn",
                                       "--deadline", "1月20日", "--outbox", str(folder / "out"), "--smtp", server])
    assert result.exit_code == 1  # 调研室's address is refused
    bodies = {message_from_bytes(c, policy=policy.default)["Subject"]: message_from_bytes(c, policy=policy.default).get_body().get_content()
              for _, _, c in handler.received}
    text = bodies["【催报】2007年度目标考核填报（开发处）"]
    assert "乙区：6-1 违规审批项目数（需改正）；7-3" in text and "1月20日前" in text
    assert "【催报】2007年度目标考核填报（办公室）" in bodies


def test_bad_contacts_are_said(book):
    contacts, problems = outbox.read_contacts([["部门", "联系人", "邮箱"], ["不存在处", "", "a@b.cn"], ["办公室", "", "not-an-address"]],
                                              book, "通讯录.csv")
    assert contacts == {} and len(problems) == 2


def test_password_never_written(setup, smtp_server, monkeypatch):
    folder, contacts = setup
    _, server = smtp_server
    monkeypatch.setenv("ASSESS_XL_SMTP_PASSWORD", "s3cret-pass")
    CliRunner().invoke(main, ["send", "forms", "--forms", str(folder / "forms"), "--contacts", str(contacts),
                              "--from", "zhc@example.cn", "--outbox", str(folder / "out"), "--smtp", server])
    for path in (folder / "out").rglob("*"):
        assert b"s3cret-pass" not in path.read_bytes()
    assert os.environ["ASSESS_XL_SMTP_PASSWORD"] == "s3cret-pass"


def test_return_copies_as_drafts(setup):
    folder, contacts = setup
    inbox = folder / "inbox"
    inbox.mkdir()
    fill_workbook(folder / "forms" / "2007年度目标考核填报表-开发处.xlsx", inbox / "开发处.xlsx",
                  {"开发处": {"6-1": {"甲区": "两例"}}})
    result = CliRunner().invoke(main, ["send", "returns", str(inbox), "--contacts", str(contacts), "--from", "zhc@example.cn",
                                       "--outbox", str(folder / "out")])
    assert result.exit_code == 0
    messages = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in (folder / "out").glob("*.eml")]
    kfc = next(m for m in messages if m["Subject"] == "【退回修改】2007年度目标考核填报表（开发处）")
    ((name, content),) = attachments(kfc)
    assert name == "2007年度目标考核填报表-开发处-退回修改.xlsx" and content.startswith(b"PK")
    assert "退回说明" in kfc.get_body().get_content()
