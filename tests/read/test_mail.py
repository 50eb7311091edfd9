"""Returns that arrive as mail, built with the email package in the shapes real clients produce."""
import base64
import hashlib
import io
import zipfile
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.utils import formataddr

import pytest

from assess_xl.read import mail

from assess_xl.demo import fill_workbook
from helpers import attachment, message, write_forms
from helpers import read_paths

DISTRICTS = ["甲区", "乙区"]


@pytest.fixture(scope="module")
def workbooks(book, tmp_path_factory):
    """Two fills of the 开发处 copy: a first and a corrected version."""
    folder = tmp_path_factory.mktemp("mail")
    blank = write_forms(book, DISTRICTS, folder / "blank")
    fill_workbook(blank["开发处"], folder / "first.xlsx", {"开发处": {"6-1": {"甲区": "1", "乙区": "0"}}})
    fill_workbook(blank["开发处"], folder / "second.xlsx", {"开发处": {"6-1": {"甲区": "3", "乙区": "0"}}})
    fill_workbook(blank["办公室"], folder / "office.xlsx", {"办公室": {"1-1": {"甲区": "是", "乙区": "否"}}})
    return {name: (folder / f"{name}.xlsx").read_bytes() for name in ("first", "second", "office")}


def encoded_word(name: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(name.encode(charset)).decode()}?="


NAMES = {  # how clients write 开发处-填报表.xlsx
    "outlook_gb2312": f'attachment; filename="{encoded_word("开发处-填报表.xlsx", "gb2312")}"',
    "foxmail_gbk": f'attachment; filename="{encoded_word("开发处-填报表.xlsx", "gbk")}"',
    "rfc2231_utf8": "attachment; filename*=UTF-8''%E5%BC%80%E5%8F%91%E5%A4%84-%E5%A1%AB%E6%8A%A5%E8%A1%A8.xlsx",
    "rfc2231_split": ("attachment; filename*0*=UTF-8''%E5%BC%80%E5%8F%91%E5%A4%84; "
                      "filename*1*=-%E5%A1%AB%E6%8A%A5%E8%A1%A8.xlsx"),
    "rfc2231_gb18030": "attachment; filename*=gb18030''" + "".join(f"%{b:02X}" for b in "开发处-填报表.xlsx".encode("gb18030")),
    "big5": f'attachment; filename="{encoded_word("開發處-填報表.xlsx", "big5")}"',
}


@pytest.mark.parametrize("client", sorted(NAMES))
def test_attachment_names_as_clients_write_them(workbooks, client):
    raw = message([attachment(workbooks["first"], NAMES[client])])
    unpacked = mail.unpack("eml", raw, "inbox/a.eml")
    (part,) = unpacked.parts
    expected = "開發處-填報表.xlsx" if client == "big5" else "开发处-填报表.xlsx"
    assert part.name == f"inbox/a.eml › {expected}" and part.data == workbooks["first"]
    assert part.envelope.sender == "kfc@example.cn" and part.envelope.subject == "开发处填报表"
    assert part.envelope.date.isoformat() == "2008-01-07T09:00:00+08:00"


def test_vnd_ms_excel_content_type(workbooks):
    raw = message([attachment(workbooks["first"], 'attachment; filename="a.xlsx"', "application/vnd.ms-excel")])
    assert len(mail.unpack("eml", raw, "a.eml").parts) == 1


def test_later_mail_wins_and_the_same_attachment_counts_once(book, workbooks, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    early = message([attachment(workbooks["first"], 'attachment; filename="kfc.xlsx"')], "Mon, 07 Jan 2008 09:00:00 +0800")
    late = message([attachment(workbooks["second"], 'attachment; filename="kfc.xlsx"')], "Tue, 08 Jan 2008 09:00:00 +0800",
                   message_id="<2@example.cn>")
    forwarded = message([attachment(workbooks["first"], 'attachment; filename="fw.xlsx"')], "Wed, 09 Jan 2008 09:00:00 +0800",
                        message_id="<3@example.cn>")
    (inbox / "b-late.eml").write_bytes(late)
    (inbox / "a-early.eml").write_bytes(early)
    (inbox / "c-forwarded.eml").write_bytes(forwarded)
    result = read_paths([inbox], book)
    assert result.values.loc["甲区", "6-1"] == 3  # the later mail, whatever the files' order and times
    statuses = {r.info.name: r.status for r in result.files}
    assert statuses["inbox/c-forwarded.eml › fw.xlsx"] == "重复"
    sources = [r for r in result.files if r.info.name == "inbox/b-late.eml › kfc.xlsx"][0]
    assert "Message-ID：<2@example.cn>" in sources.info.envelope and "发件人：kfc@example.cn" in sources.info.envelope


def test_zip_attachment_and_zip_file_with_gbk_names(book, workbooks, tmp_path):
    buffer = io.BytesIO()
    real = zipfile.ZipInfo._encodeFilenameFlags

    def as_windows_archivers_do(self):  # GBK bytes, without the UTF-8 flag
        if self.filename == "办公室.xlsx":
            return self.filename.encode("gbk"), self.flag_bits
        return real(self)
    zipfile.ZipInfo._encodeFilenameFlags = as_windows_archivers_do
    try:
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("办公室.xlsx", workbooks["office"])
            archive.writestr("说明.txt", "x")
    finally:
        zipfile.ZipInfo._encodeFilenameFlags = real
    raw = message([attachment(buffer.getvalue(), 'attachment; filename="returns.zip"', "application/zip")])
    unpacked = mail.unpack("eml", raw, "a.eml")
    assert [p.name for p in unpacked.parts] == ["a.eml › returns.zip › 办公室.xlsx"]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "returns.zip").write_bytes(buffer.getvalue())
    result = read_paths([tmp_path / "in"], book)
    assert result.values.loc["甲区", "1-1"] == 1 and result.values.loc["乙区", "1-1"] == 0


def test_mbox_and_maildir(book, workbooks, tmp_path):
    one = message([attachment(workbooks["first"], 'attachment; filename="kfc.xlsx"')])
    two = message([attachment(workbooks["office"], 'attachment; filename="bgs.xlsx"')], message_id="<9@example.cn>")
    box = tmp_path / "box"
    box.mkdir()
    (box / "收件箱.mbox").write_bytes(b"From kfc@example.cn Mon Jan  7 09:00:00 2008\n" + one +
                                    b"\nFrom bgs@example.cn Mon Jan  7 10:00:00 2008\n" + two)
    result = read_paths([box], book)
    assert result.values.loc["甲区", "6-1"] == 1 and result.values.loc["甲区", "1-1"] == 1
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1199667600.M1P1.host").write_bytes(one)
    (maildir / "cur" / "1199667601.M2P1.host:2,S").write_bytes(two)
    result = read_paths([maildir], book)
    assert result.values.loc["甲区", "6-1"] == 1 and result.values.loc["乙区", "1-1"] == 0


# ---- hostile and odd mail (issue 11, point 4) ---------------------------------------------------

def nested(depth: int, inner: bytes) -> bytes:
    from email import message_from_bytes
    from email.mime.message import MIMEMessage
    current = message_from_bytes(inner)
    for _ in range(depth):
        outer = MIMEMultipart()
        outer["From"], outer["Subject"] = "fw@example.cn", "Fw"
        outer.attach(MIMEMessage(current))
        current = outer
    return current.as_bytes()


def hostile_cases(workbooks):
    good = workbooks["first"]
    broken = message([attachment(good, 'attachment; filename="a.xlsx"')]).replace(b"Content-Transfer-Encoding: base64",
                                                                                   b"Content-Transfer-Encoding: base64", 1)
    broken = broken[: len(broken) // 2] + b"!!!!====" + broken[len(broken) // 2:]
    tnef = MIMEApplication(b"\x78\x9f\x3e\x22", _subtype="ms-tnef")
    tnef["Content-Disposition"] = 'attachment; filename="winmail.dat"'
    encrypted = MIMEApplication(b"\x30\x80", _subtype="pkcs7-mime")
    encrypted.replace_header("Content-Type", 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"')
    encrypted["From"], encrypted["Subject"] = "a@example.cn", "加密"
    many = message([attachment(b"x", f'attachment; filename="f{i}.txt"') for i in range(1000)])
    return {
        "not_a_message.eml": (b"just some text\nthat is not mail\n" * 10, "mail_not_a_message"),
        "many.eml": (many, "mail_too_many_attachments"),
        "deep.eml": (nested(50, message([attachment(good, 'attachment; filename="deep.xlsx"')])), "mail_too_deep"),
        "broken.eml": (broken, None),
        "tnef.eml": (message([tnef]), "mail_tnef"),
        "encrypted.eml": (encrypted.as_bytes(), "mail_encrypted"),
        "paths.eml": (message([attachment(good, 'attachment; filename="../../etc/evil\\x00.xlsx"')]), None),
        "huge.eml": (b"From: a@b\n\n" + b"x" * (201 * 1024 * 1024), "too_large"),
    }


def test_hostile_mail_each_has_a_verdict_and_the_good_one_is_still_read(book, workbooks, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "good.eml").write_bytes(message([attachment(workbooks["office"], 'attachment; filename="bgs.xlsx"')]))
    cases = hostile_cases(workbooks)
    for name, (content, _) in cases.items():
        (inbox / name).write_bytes(content)
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.iterdir()}
    outside = set(tmp_path.parent.iterdir())
    result = read_paths([inbox], book)
    assert result.values.loc["甲区", "1-1"] == 1 and result.values.loc["乙区", "1-1"] == 0
    for name, (_, code) in cases.items():
        mine = [p for p in result.problems if p.file.startswith(f"inbox/{name}")]
        assert mine, name
        if code:
            assert code in {p.kind for p in mine}, (name, [p.kind for p in mine])
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.iterdir()} == before
    assert set(tmp_path.parent.iterdir()) == outside  # nothing written anywhere
    evil = [r.info.name for r in result.files if r.info.name.startswith("inbox/paths.eml")]
    assert evil and all("/etc/" not in n and "\x00" not in n for n in evil)


def test_signed_mail_is_read(book, workbooks):
    signed = MIMEMultipart("signed", protocol="application/pkcs7-signature")
    body = MIMEMultipart()
    body.attach(attachment(workbooks["first"], 'attachment; filename="kfc.xlsx"'))
    signature = MIMEApplication(b"\x30\x80", _subtype="pkcs7-signature")
    signed.attach(body)
    signed.attach(signature)
    signed["From"], signed["Date"] = "kfc@example.cn", "Mon, 07 Jan 2008 09:00:00 +0800"
    parts = mail.unpack("eml", signed.as_bytes(), "s.eml").parts
    assert [p.name for p in parts] == ["s.eml › kfc.xlsx"]


def test_a_sender_not_in_the_contacts_is_read_and_flagged(book, workbooks, tmp_path):
    from assess_xl import pipeline
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "known.eml").write_bytes(message([attachment(workbooks["office"], 'attachment; filename="bgs.xlsx"')],
                                              sender=formataddr(("办公室", "BGS@example.cn"), "utf-8")))
    (inbox / "stranger.eml").write_bytes(message([attachment(workbooks["first"], 'attachment; filename="kfc.xlsx"')],
                                                 sender="someone@elsewhere.com", message_id="<s@x>"))
    result = pipeline.collect([inbox], book, pipeline.CollectOptions(known_senders=frozenset({"bgs@example.cn"})))
    assert result.read.values.loc["甲区", "6-1"] == 1  # read all the same
    flagged = [p for p in result.read.problems if p.kind == "mail_unknown_sender"]
    assert [p.file for p in flagged] == ["inbox/stranger.eml › kfc.xlsx"]
    (report,) = [f for f in result.read.files if f.info.name == "inbox/stranger.eml › kfc.xlsx"]
    assert "不在通讯录中" in report.reason


def test_outlook_msg(book, workbooks, tmp_path):
    """An Outlook .msg (built by tests/outlook.py, as nothing here writes one) is read by extract-msg."""
    from outlook import build_msg
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "开发处.msg").write_bytes(build_msg("开发处填报表", "kfc@example.cn", [("开发处-填报表.xlsx", workbooks["first"]),
                                                                              ("说明.txt", b"x")]))
    (inbox / "broken.msg").write_bytes(b"\xd0\xcf\x11\xe0 not really")
    result = read_paths([inbox], book)
    assert result.values.loc["甲区", "6-1"] == 1 and result.values.loc["乙区", "6-1"] == 0
    (report,) = [f for f in result.files if f.info.name == "inbox/开发处.msg › 开发处-填报表.xlsx"]
    assert "kfc@example.cn" in report.info.envelope and "开发处填报表" in report.info.envelope
    assert "mail_not_a_message" in {p.kind for p in result.problems if p.file.startswith("inbox/broken.msg")}
