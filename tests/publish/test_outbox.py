"""Mail the coordinator sends: drafts by default, SMTP against a real server (aiosmtpd, in-process)."""
import os
from email import message_from_bytes, policy

import pytest
from click.testing import CliRunner

from assess_xl.publish import outbox
from assess_xl.cli import main
from assess_xl.demo import fill_workbook

from smtp_servers import Collector, Running


@pytest.fixture
def setup(book, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["forms", "--districts", "甲区,乙区", "-o", str(tmp_path / "forms")]).exit_code == 0
    assert runner.invoke(main, ["contacts-template", "-o", str(tmp_path / "通讯录")]).exit_code == 0
    contacts = tmp_path / "通讯录.csv"
    contacts.write_text("部门,联系人,邮箱\n开发处,王五,kfc@example.cn; kfc2@example.cn\n办公室,赵六,bgs@example.cn\n"
                        "调研室,,refuse@example.cn\n", encoding="utf-8")
    return tmp_path, contacts


@pytest.fixture
def smtp_server():
    running = Running(Collector())
    try:
        yield running.handler, running.address
    finally:
        running.stop()


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
    assert result.exit_code == 1 and "3封邮件草稿" in result.output  # the other departments got nothing
    assert "通讯录中没有这些部门的邮箱，没有给它们发送：" in result.output and "综合处" in result.output
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
    assert again.exit_code == 1 and len(list((folder / "out").glob("*.eml"))) == 3  # drafts are rewritten, not "sent"


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
    assert log.count(",已发送,") == 3 and "被拒绝：服务器回应 550" in log  # one row per recipient
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
    assert "乙区：\n  需改正 6-1 违规审批项目数：“两例”不是数字" in text and "\n  未填写 7-3" in text and "1月20日前" in text
    assert "【催报】2007年度目标考核填报（办公室）" in bodies


def test_bad_contacts_are_said(book):
    contacts, problems = outbox.read_contacts([["部门", "联系人", "邮箱"], ["不存在处", "", "a@b.cn"], ["办公室", "", "not-an-address"]],
                                              book, "通讯录.xlsx", "通讯录")
    assert contacts == {}
    assert problems[0].message.startswith("通讯录.xlsx，工作表“通讯录”，A2格：部门“不存在处”不在评分细则的部门中")
    assert problems[1].message.startswith("通讯录.xlsx，工作表“通讯录”，C3格：办公室的邮箱“not-an-address”无效")
    assert [(p.kind, p.file, p.sheet, p.cell) for p in problems] == [
        ("contact_department_unknown", "通讯录.xlsx", "通讯录", "A2"), ("contact_address_invalid", "通讯录.xlsx", "通讯录", "C3")]


def test_password_never_written(setup, monkeypatch):
    """The password is really used (the server is given it at login and the mail goes out) and is in no file."""
    folder, contacts = setup
    logins: list[tuple[str, str]] = []
    running = Running(Collector(), logins)
    try:
        monkeypatch.setenv("ASSESS_XL_SMTP_PASSWORD", "s3cret-pass")
        CliRunner().invoke(main, ["send", "forms", "--forms", str(folder / "forms"), "--contacts", str(contacts),
                                  "--from", "zhc@example.cn", "--outbox", str(folder / "out"), "--smtp", running.address,
                                  "--user", "zhc"])
    finally:
        running.stop()
    assert logins and set(logins) == {("zhc", "s3cret-pass")} and running.handler.received
    written = list((folder / "out").rglob("*"))
    assert [path.name for path in written] == ["发送记录.csv"] and "已发送" in written[0].read_text(encoding="utf-8")
    for path in written:
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
    assert result.exit_code == 1  # departments without an address got nothing
    messages = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in (folder / "out").glob("*.eml")]
    kfc = next(m for m in messages if m["Subject"] == "【退回修改】2007年度目标考核填报表（开发处）")
    ((name, content),) = attachments(kfc)
    assert name == "2007年度目标考核填报表-开发处-退回修改.xlsx" and content.startswith(b"PK")
    assert "退回说明" in kfc.get_body().get_content()
    assert "你们交回的填报表中有需要改正" in kfc.get_body().get_content()
    never = next(m for m in messages if "办公室" in m["Subject"])  # 办公室 returned nothing
    assert never["Subject"] == "【请填报】2007年度目标考核填报表（办公室，再次发送）"
    body = never.get_body().get_content()
    assert "尚未收到你们交回的填报表" in body and "再次附上" in body and "你们交回的填报表中有" not in body
    ((name, content),) = attachments(never)
    assert name == "2007年度目标考核填报表-办公室-退回修改.xlsx" and content.startswith(b"PK")


def send(folder, contacts, command, *extra, sender="zhc@example.cn"):
    where = ["--forms", str(folder / "forms")] if command == "forms" else [str(folder / "inbox")]
    return CliRunner().invoke(main, ["send", command, *where, "--contacts", str(contacts), "--from", sender,
                                     "--outbox", str(folder / "out"), *extra])


def every_department(book, folder, extra: dict | None = None):
    """A contacts file giving every department an address (or what `extra` says for some)."""
    rows = [f"{d},,{(extra or {}).get(d, f'd{n}@example.cn')}" for n, d in enumerate(book.departments)]
    path = folder / "全部通讯录.csv"
    path.write_text("部门,联系人,邮箱\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_from_with_a_display_name_and_named_contacts(book, setup, smtp_server):
    folder, _ = setup
    handler, server = smtp_server
    contacts = every_department(book, folder, {"开发处": '"郑华" <hjj@hbj.gov.cn>; 李四 <ls@hbj.gov.cn>'})
    result = send(folder, contacts, "forms", sender="市环保局综合处 <zhc@hbj.gov.cn>")
    assert result.exit_code == 0, result.output
    draft = next(p for p in (folder / "out").glob("*.eml") if "开发处" in p.name)
    raw = draft.read_bytes()
    message = message_from_bytes(raw, policy=policy.default)
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("市环保局综合处", "zhc@hbj.gov.cn")
    assert [(a.display_name, a.addr_spec) for a in message["To"].addresses] == [("郑华", "hjj@hbj.gov.cn"),
                                                                                 ("李四", "ls@hbj.gov.cn")]
    assert b"From: =?utf-8?b?" in raw and b"?= <zhc@hbj.gov.cn>\r\n" in raw  # the address stays outside the encoded word
    assert message["X-Unsent"] == "1" and message["Message-ID"].endswith("@hbj.gov.cn>") and message["Date"]
    assert message["Subject"] == "【请填报】2007年度目标考核填报表（开发处）"
    result = send(folder, contacts, "forms", "--smtp", server, sender="市环保局综合处 <zhc@hbj.gov.cn>")
    assert result.exit_code == 0, result.output
    mail_from, recipients, content = next(r for r in handler.received if "hjj@hbj.gov.cn" in r[1])
    assert mail_from == "zhc@hbj.gov.cn" and recipients == ["hjj@hbj.gov.cn", "ls@hbj.gov.cn"]
    assert "X-Unsent" not in message_from_bytes(content, policy=policy.default)  # only drafts are marked unsent


@pytest.mark.parametrize("written, said", [
    ("", "第3行C列（C3格）：开发处未填写邮箱"),
    ("张三@例子.中国", "（C3格）：开发处的邮箱“张三@例子.中国”在@之前含有中文"),
    ("kfc@", "（C3格）：开发处的邮箱“kfc@”无效"),
])
def test_contact_cells_that_cannot_be_used(setup, written, said):
    folder, _ = setup
    contacts = folder / "c.csv"
    contacts.write_text(f"部门,联系人,邮箱\n办公室,,bgs@example.cn\n开发处,王五,{written}\n", encoding="utf-8")
    result = send(folder, contacts, "forms")
    assert said in result.output and "“”无效" not in result.output
    assert result.exit_code == 1 and "开发处" in result.output.split("没有给它们发送：")[1]
    assert [p.name for p in (folder / "out").glob("*.eml")] == ["001-【请填报】2007年度目标考核填报表（办公室）.eml"]


def test_unicode_domain_written_as_idna(book, setup):
    folder, _ = setup
    contacts = every_department(book, folder, {"开发处": "kfc@例子.中国"})
    assert send(folder, contacts, "forms").exit_code == 0
    draft = next(p for p in (folder / "out").glob("*.eml") if "开发处" in p.name)
    assert message_from_bytes(draft.read_bytes(), policy=policy.default)["To"] == "kfc@xn--fsqu00a.xn--fiqs8s"


@pytest.mark.parametrize("sender, said", [
    ("zhc@example.cn\r\nBcc: x@evil.cn", "--from 的值含有换行符"),
    ("综合处", "--from 的值“综合处”不是有效的发件人"),
    ("综合处 <zhc@综合>", "不是有效的发件人"),
])
def test_bad_sender_is_said(setup, sender, said):
    folder, contacts = setup
    result = send(folder, contacts, "forms", sender=sender)
    assert result.exit_code == 2 and said in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit) and not (folder / "out").exists()


def test_forms_exit_clean_when_every_department_got_its_form(book, setup):
    folder, _ = setup
    result = send(folder, every_department(book, folder), "forms")
    assert result.exit_code == 0 and "未发送" not in result.output


def test_forms_exit_1_when_a_form_is_missing(book, setup):
    folder, _ = setup
    (folder / "forms" / "2007年度目标考核填报表-开发处.xlsx").unlink()
    result = send(folder, every_department(book, folder), "forms")
    assert result.exit_code == 1 and "没有这些部门的填报表，没有给它们发送：开发处" in result.output


def fill_some(folder):
    """开发处 returns its form with one cell wrong for 乙区; 监察室 one score (3.5) above its maximum 3."""
    inbox = folder / "inbox"
    inbox.mkdir(exist_ok=True)
    fill_workbook(folder / "forms" / "2007年度目标考核填报表-开发处.xlsx", inbox / "开发处.xlsx",
                  {"开发处": {"6-1": {"甲区": "1", "乙区": "两例"}, "7-1": {"甲区": "是", "乙区": "是"}}})
    fill_workbook(folder / "forms" / "2007年度目标考核填报表-监察室.xlsx", inbox / "监察室.xlsx",
                  {"监察室": {"14-1": {"甲区": "3.5", "乙区": "3"}}})


def test_each_reminder_round_is_its_own_mail(book, setup, smtp_server):
    folder, _ = setup
    handler, server = smtp_server
    fill_some(folder)
    contacts = every_department(book, folder)
    first = send(folder, contacts, "remind", "--deadline", "1月20日", "--smtp", server)
    assert first.exit_code == 0, first.output
    per_round = len(handler.received)
    assert per_round > 2
    assert send(folder, contacts, "remind", "--deadline", "1月20日", "--smtp", server).exit_code == 0
    assert len(handler.received) == per_round  # a rerun of the same round sends nothing again
    second = send(folder, contacts, "remind", "--deadline", "1月27日", "--smtp", server)
    assert second.exit_code == 0 and len(handler.received) == 2 * per_round  # a new deadline is a new round
    bodies = [message_from_bytes(c, policy=policy.default).get_body().get_content() for _, _, c in handler.received]
    assert sum("1月27日前" in body for body in bodies) == per_round
    assert send(folder, contacts, "remind", "--deadline", "1月27日", "--round", "第三次", "--smtp", server).exit_code == 0
    assert len(handler.received) == 3 * per_round


def test_drafts_of_two_reminder_rounds_sit_side_by_side(book, setup):
    """Drafts (no --smtp): the second round's drafts do not overwrite the first's, and a rerun of a round
    rewrites that round's drafts instead of adding more."""
    folder, _ = setup
    fill_some(folder)
    contacts = every_department(book, folder)
    assert send(folder, contacts, "remind", "--round", "第一次").exit_code == 0
    first = sorted(p.name for p in (folder / "out").glob("*.eml"))
    assert first and all(name.endswith("-第一次.eml") for name in first)
    assert send(folder, contacts, "remind", "--round", "第二次").exit_code == 0
    assert send(folder, contacts, "remind", "--round", "第二次").exit_code == 0
    both = sorted(p.name for p in (folder / "out").glob("*.eml"))
    assert len(both) == 2 * len(first) and set(first) <= set(both)
    assert "001-【催报】2007年度目标考核填报（办公室）-第二次.eml" in both


def test_reminder_names_what_is_wrong_in_each_cell(book, setup):
    folder, _ = setup
    fill_some(folder)
    assert send(folder, every_department(book, folder), "remind").exit_code == 0
    drafts = {m["Subject"]: m.get_body().get_content() for m in
              (message_from_bytes(p.read_bytes(), policy=policy.default) for p in (folder / "out").glob("*.eml"))}
    inspection = drafts["【催报】2007年度目标考核填报（监察室）"]
    assert "甲区：\n  需改正 14-1" in inspection and "“3.5”超过最高分3，本项不计分。请填写" in inspection
    assert "乙区：\n  未填写 15-1" in inspection and "需改正" not in inspection.split("乙区：")[1]
    development = drafts["【催报】2007年度目标考核填报（开发处）"]
    assert "乙区：\n  需改正 6-1 违规审批项目数：“两例”不是数字，本项不计分。请填写" in development


def test_reminder_to_a_department_that_returned_nothing(book, setup):
    folder, _ = setup
    fill_some(folder)
    assert send(folder, every_department(book, folder), "remind", "--round", "第一次").exit_code == 0
    drafts = {m["Subject"]: m.get_body().get_content() for m in
              (message_from_bytes(p.read_bytes(), policy=policy.default) for p in (folder / "out").glob("*.eml"))}
    office = drafts["【催报】2007年度目标考核填报（办公室）"]
    assert "尚未收到你们交回的填报表" in office and "以下内容尚未收到或需要改正" not in office
    assert "以下内容尚未收到或需要改正" in drafts["【催报】2007年度目标考核填报（开发处）"]


def test_unreadable_contacts_said_in_chinese(setup):
    folder, _ = setup
    contacts = folder / "gbk.csv"
    contacts.write_bytes("部门,联系人,邮箱\n办公室,,bgs@example.cn\n".encode("gbk"))
    result = send(folder, contacts, "forms")
    assert result.exit_code == 2 and "通讯录" in result.output and "（不是UTF-8编码的文本）" in result.output
    assert "Error" not in result.output
