"""What a district and a department receive, read as the recipient reads it, after a year run through
the real command line with district names as they are really written (full-width brackets, middle dots)."""
import base64
import re
import email
import email.policy

import docx
import openpyxl

from assess_xl.demo import fill_workbook
from tests.conftest import typed_best
from tests.helpers import assess_xl, attachment, message, write_forms

DISTRICTS = ["高新区（虎丘区）", "工业园区", "吴中区·东山"]


def best_returns(book, forms, inbox, but=None, leave_out=()) -> None:
    """Every department but `leave_out` returns its own copy with full marks everywhere, except the
    entries in `but` (department → code → district → typed)."""
    for department in book.departments:
        codes = {i.code: {d: typed_best(i) for d in DISTRICTS} for i in book.department_indicators(department)}
        for code, by_district in (but or {}).get(department, {}).items():
            codes[code].update(by_district)
        if codes and department not in leave_out:
            fill_workbook(forms[department], inbox / f"{department}.xlsx", {department: codes})


def notice_text(path) -> str:
    document = docx.Document(str(path))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def test_a_refused_entry_is_named_for_what_it_is_in_the_scorecard_and_the_notice(book, tmp_path):
    """A score of 3.5 where the most is 3 was understood: the district sheet and the notice say that it
    exceeds the maximum, not that it could not be read ("无法识别")."""
    forms = write_forms(book, DISTRICTS, tmp_path / "forms")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fill_workbook(forms["监察室"], inbox / "监察室.xlsx",
                  {"监察室": {"14-1": {"工业园区": "3.5", "高新区（虎丘区）": "2"}}})
    done = assess_xl("collect", inbox, "-o", tmp_path / "结果.xlsx", "--notices", tmp_path / "通报",
                     "--districts", ",".join(DISTRICTS))
    assert done.returncode == 1, done.stderr
    ws = openpyxl.load_workbook(tmp_path / "结果.xlsx")["工业园区"]
    row = next(r for r in ws.iter_rows(values_only=True) if r[1] == 14)
    assert row[4] == "党风廉政建设工作评定得分：“3.5”（超过最高分3，未计分）"
    assert row[6] == "缺报：党风廉政建设工作评定得分填写的“3.5”超过最高分3，本项计0分"
    notice = notice_text(next((tmp_path / "通报").glob("*工业园区*.docx")))
    assert "“3.5”超过最高分3" in notice and "无法识别" not in notice


def test_a_notice_names_the_departments_whose_report_is_missing(book, tmp_path):
    """缺报 means a department sent no usable figure for the district: the notice says which targets and
    whose report is missing, instead of a bare count the district would read as its own fault."""
    forms = write_forms(book, DISTRICTS, tmp_path / "forms")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    best_returns(book, forms, inbox, but={"监察室": {"14-1": {"工业园区": "3.5"}}}, leave_out=("局领导",))
    done = assess_xl("collect", inbox, "-o", tmp_path / "结果.xlsx", "--notices", tmp_path / "通报",
                     "--districts", ",".join(DISTRICTS))
    assert done.returncode == 1, done.stderr
    said = {district: next(line for line in notice_text(next((tmp_path / "通报").glob(f"*{district}*.docx")))
                           .splitlines() if line.startswith("你局基本分"))
            for district in DISTRICTS}
    assert said["工业园区"].endswith("其中目标14、37缺报（负责填报的监察室、局领导未报送你局的有效数据），按0分计。")
    assert said["吴中区·东山"].endswith("其中目标37缺报（负责填报的局领导未报送你局的有效数据），按0分计。")


def test_seal_alone_does_not_say_it_wrote_a_scorecard_to_the_bundle_path(book, tmp_path):
    """`seal` puts the scorecard into the bundle; the terminal says so, not "考核结果已写入 <the .zip>"."""
    forms = write_forms(book, DISTRICTS, tmp_path / "forms")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    best_returns(book, forms, inbox)
    done = assess_xl("seal", inbox, "-o", tmp_path / "2007年考核.zip", "--districts", ",".join(DISTRICTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "封存包已写入" in done.stdout and "考核结果已写入" not in done.stdout


def test_a_department_whose_mail_could_not_be_read_is_not_told_only_that_nothing_came(book, tmp_path):
    """调研室 mailed its form from Outlook in RTF (only winmail.dat): the reminder and the return mail do
    not flatly say nothing was received; they say an unreadable attachment may be why and how to resend."""
    forms = write_forms(book, DISTRICTS, tmp_path / "forms")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    best_returns(book, forms, inbox, leave_out=("调研室",))
    tnef = attachment(b"\x78\x9f\x3e\x22" + bytes(200), 'attachment; filename="winmail.dat"', "application/ms-tnef")
    (inbox / "调研室.eml").write_bytes(message([tnef], sender="dys@example.cn", subject="调研室填报表"))
    contacts = tmp_path / "通讯录.csv"
    contacts.write_text("部门,联系人,邮箱\n调研室,李明,dys@example.cn\n", encoding="utf-8")
    for command in ("remind", "returns"):
        done = assess_xl("send", command, inbox, "--contacts", contacts, "--from", "zhc@example.cn",
                         "--outbox", tmp_path / command)
        assert done.returncode == 0, done.stdout + done.stderr
        (draft,) = (tmp_path / command).glob("*.eml")
        body = next(part for part in email.message_from_bytes(draft.read_bytes(), policy=email.policy.default).walk()
                    if part.get_content_type() == "text/plain").get_content()
        assert "尚未收到你们交回的填报表（如已发送，可能是附件无法读取：请把填好的工作簿作为普通附件重新发送" in body, body


def test_names_and_subjects_written_in_raw_gbk_bytes_are_shown_in_chinese(book, tmp_path):
    """Older Chinese mail programs write the attachment name and the subject as raw GBK bytes, not encoded as
    RFC 2047/2231 ask: 来源 shows them in Chinese, not as replacement characters."""
    forms = write_forms(book, DISTRICTS, tmp_path / "forms")
    filled = tmp_path / "开发处.xlsx"
    fill_workbook(forms["开发处"], filled, {"开发处": {"6-1": {d: "1" for d in DISTRICTS}}})
    name, subject = "开发处填报表.xlsx".encode("gbk"), "开发处2007年度考核填报".encode("gbk")
    content = base64.encodebytes(filled.read_bytes()).replace(b"\n", b"\r\n")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "开发处.eml").write_bytes(
        b"From: kfc@example.cn\r\nTo: zhc@example.cn\r\nSubject: " + subject + b"\r\nDate: Tue, 8 Jan 2008 16:40:02 +0800\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\n'
        b'Content-Type: application/octet-stream; name="' + name + b'"\r\n'
        b'Content-Disposition: attachment; filename="' + name + b'"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + content + b"\r\n--BB--\r\n")
    done = assess_xl("collect", inbox, "-o", tmp_path / "结果.xlsx", "--districts", ",".join(DISTRICTS))
    assert done.returncode == 1, done.stdout + done.stderr
    rows = list(openpyxl.load_workbook(tmp_path / "结果.xlsx")["来源"].iter_rows(values_only=True))
    said = " ".join(str(cell) for row in rows for cell in row if cell)
    assert "inbox/开发处.eml › 开发处填报表.xlsx" in said and "主题：开发处2007年度考核填报" in said, said
    assert "\ufffd" not in said


def test_help_text_broken_between_chinese_characters_has_no_stray_space():
    """A command's description written over two lines joins without a space between Chinese characters."""
    for args in (["--help"], ["verify", "--help"]):
        done = assess_xl(*args)
        assert done.returncode == 0 and "核验封存包" in done.stdout, done.stderr
        assert "重新计算，逐项比对" in "".join(line.strip() for line in done.stdout.splitlines()), done.stdout
        assert "重新计算， 逐项" not in done.stdout.replace("\n", "")


def test_the_targets_deciding_a_pair_are_listed_apart_from_the_clauses(book, tmp_path):
    """In "差在目标1（−1）、目标2（+1）、目标8（+0.13）；若……" the targets are one list (、) and the clauses are
    separated by ；, so a reader does not take each target for a sentence of its own."""
    forms = write_forms(book, DISTRICTS, tmp_path / "forms")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    best_returns(book, forms, inbox, but={"办公室": {"1-1": {"吴中区·东山": "否"}},
                                          "综合处": {"2-3": {"工业园区": "否"}},
                                          "法规科技处": {"8-3": {"工业园区": "92%"}}})
    done = assess_xl("collect", inbox, "-o", tmp_path / "结果.xlsx", "--districts", ",".join(DISTRICTS))
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if "第2名吴中区·东山与第3名工业园区" in line)
    assert re.search(r"差在目标\d+（[+−][0-9.]+）、目标\d+（[+−][0-9.]+）、目标\d+（[+−][0-9.]+）；若", line), line


def test_console_on_a_folder_that_is_not_a_year_says_what_to_give_instead(tmp_path):
    """It said "请用 assess-xl console 新建年度文件夹" to someone who had just run assess-xl console."""
    (tmp_path / "杂物").mkdir()
    (tmp_path / "杂物" / "a.txt").write_text("x")
    done = assess_xl("console", tmp_path / "杂物", "--no-browser")
    assert done.returncode == 2 and "不是年度文件夹" in done.stderr
    assert "请给出一个还不存在的文件夹或空文件夹" in done.stderr and "请用 assess-xl console" not in done.stderr
