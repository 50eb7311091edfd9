"""Which submission is later (issue 19, items 6 and 7), through the installed console script: a Date
later than the message's own receipt is not believed, and two submissions of the same time are a tie,
reported as such, never ordered by their names."""
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from assess_xl.demo import fill_workbook
from helpers import write_forms
from test_mail import attachment, message

DISTRICTS = ["甲区", "乙区"]
EXE = Path(sys.executable).parent / "assess-xl"


def collect(inputs, tmp_path, *extra) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "结果.xlsx"
    done = subprocess.run([EXE, "collect", *map(str, inputs), "-o", str(out), "--districts", ",".join(DISTRICTS),
                           *extra], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert out.exists(), done.stdout + done.stderr
    workbook = openpyxl.load_workbook(out, read_only=True)
    sheets = {name: [list(row) for row in workbook[name].iter_rows(values_only=True)]
              for name in ("问题清单", "来源", "得分明细")}
    workbook.close()
    return done, sheets


def target_status(sheets, district: str, target: int) -> str:
    header = sheets["得分明细"][0]
    for row in sheets["得分明细"][1:]:
        record = dict(zip(header, row))
        if record["区"] == district and record["目标编号"] == target:
            return record["状态"]
    raise AssertionError((district, target))


def problems_of(sheets, kind_text: str) -> list[dict]:
    header = sheets["问题清单"][0]
    rows = [dict(zip(header, row)) for row in sheets["问题清单"][1:]]
    return [row for row in rows if kind_text in (row["说明"] or "")]


@pytest.fixture(scope="module")
def fills(book, tmp_path_factory):
    """The 开发处 copy filled three ways (6-1 for 甲区 = 1, 3 and 5)."""
    folder = tmp_path_factory.mktemp("fills")
    blank = write_forms(book, DISTRICTS, folder / "blank")
    out = {}
    for value in ("1", "3", "5"):
        fill_workbook(blank["开发处"], folder / f"{value}.xlsx", {"开发处": {"6-1": {"甲区": value, "乙区": "0"}}})
        out[value] = (folder / f"{value}.xlsx").read_bytes()
    return out


def received(raw: bytes, stamp: str) -> bytes:
    """The message as the receiving server stored it: its Received header on top."""
    return f"Received: from mx.example.cn by imap.example.cn; {stamp}\r\n".encode() + raw


def kfc(data: bytes, date: str, number: int) -> bytes:
    return message([attachment(data, 'attachment; filename="kfc.xlsx"')], date, message_id=f"<{number}@example.cn>")


def value_used(sheets) -> str:
    """The value of 6-1 甲区 that 来源 says won (from the conflict message)."""
    (conflict,) = problems_of(sheets, "采用较晚提交")
    return conflict["说明"].split("采用较晚提交的“")[1].split("”")[0]


def inbox_of(folder, a: bytes, b: bytes):
    """folder/inbox holding the two messages as a.eml and b.eml."""
    inbox = folder / "inbox"
    inbox.mkdir()
    (inbox / "a.eml").write_bytes(a)
    (inbox / "b.eml").write_bytes(b)
    return inbox


def test_a_date_later_than_its_own_receipt_is_not_believed(fills, tmp_path):
    # Sent first, received at 09:00, but claims a Date 20 h later: it must not beat the correction.
    forged = received(kfc(fills["1"], "Tue, 08 Jan 2008 05:00:00 +0800", 1), "Mon, 07 Jan 2008 09:00:05 +0800")
    correction = received(kfc(fills["3"], "Mon, 07 Jan 2008 15:00:00 +0800", 2), "Mon, 07 Jan 2008 15:00:04 +0800")
    _, sheets = collect([inbox_of(tmp_path, forged, correction)], tmp_path)
    assert value_used(sheets) == "3"
    source = next(row for row in sheets["来源"] if row[0] == "inbox/a.eml › kfc.xlsx")
    assert "晚于收到时间" in source[-1] and "按收到时间判断先后" in source[-1]
    genuine = next(row for row in sheets["来源"] if row[0] == "inbox/b.eml › kfc.xlsx")
    assert "不可信" not in genuine[-1]


def test_a_plausible_date_before_receipt_still_decides(fills, tmp_path):
    """The Date is believed when it is not later than the receipt (the same pair, honest this time)."""
    later = received(kfc(fills["1"], "Mon, 07 Jan 2008 16:00:00 +0800", 1), "Mon, 07 Jan 2008 16:00:05 +0800")
    earlier = received(kfc(fills["3"], "Mon, 07 Jan 2008 15:00:00 +0800", 2), "Mon, 07 Jan 2008 15:00:04 +0800")
    _, sheets = collect([inbox_of(tmp_path, later, earlier)], tmp_path)
    assert value_used(sheets) == "1"


def mbox(messages: list[bytes]) -> bytes:
    return b"".join(b"From kfc@example.cn Mon Jan  7 09:00:00 2008\n" + raw + b"\n" for raw in messages)


def test_a_tie_is_a_conflict_not_a_later_submission(book, fills, tmp_path):
    """Messages #9 and #10 of a mailbox with the same Date and no receipt: nothing says which is
    later, so 6-1 is not scored and the tie is named; never called 较晚提交."""
    same = "Mon, 07 Jan 2008 09:00:00 +0800"
    filler = [message([], same, message_id=f"<n{n}@example.cn>") for n in range(8)]
    (tmp_path / "收件箱.mbox").write_bytes(mbox(filler + [kfc(fills["3"], same, 9), kfc(fills["1"], same, 10)]))
    done, sheets = collect([tmp_path / "收件箱.mbox"], tmp_path)
    ties = problems_of(sheets, "不能判断哪一份较晚")
    assert len(ties) == 1 and ties[0]["级别"] == "错误" and ties[0]["区"] == "甲区" and ties[0]["编号"] == "6-1"
    assert "#9" in ties[0]["说明"] and "#10" in ties[0]["说明"]
    assert not problems_of(sheets, "较晚提交")
    assert target_status(sheets, "甲区", 6) == "缺报"  # not scored
    assert target_status(sheets, "乙区", 6) == "正常"  # the same value in both: no conflict
    assert done.returncode == 1


def test_same_date_broken_by_a_later_receipt(fills, tmp_path):
    same = "Mon, 07 Jan 2008 09:00:00 +0800"
    first = received(kfc(fills["5"], same, 1), "Mon, 07 Jan 2008 09:00:03 +0800")
    second = received(kfc(fills["3"], same, 2), "Mon, 07 Jan 2008 09:00:09 +0800")
    (tmp_path / "box.mbox").write_bytes(mbox([second, first]))
    _, sheets = collect([tmp_path / "box.mbox"], tmp_path)
    assert value_used(sheets) == "3" and not problems_of(sheets, "不能判断哪一份较晚")


def test_a_tie_under_on_conflict_error_is_an_error_too(fills, tmp_path):
    same = "Mon, 07 Jan 2008 09:00:00 +0800"
    (tmp_path / "box.mbox").write_bytes(mbox([kfc(fills["3"], same, 1), kfc(fills["1"], same, 2)]))
    _, sheets = collect([tmp_path / "box.mbox"], tmp_path, "--on-conflict", "error")
    assert problems_of(sheets, "本项不计分") and target_status(sheets, "甲区", 6) == "缺报"


# ---- names shown visibly (issue 19, item 20) -------------------------------------------------

HIDDEN = {"\u202e": "<U+202E>", "\u200b": "<U+200B>", "\u2066": "<U+2066>", "\x1b": "<U+001B>", "\u061c": "<U+061C>"}


def test_bidi_and_invisible_characters_in_names_are_shown_visibly(fills, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    hostile = "kfc\u202exslx.exe\u200b\u2066\x1b\u061c.xlsx"
    name = f'attachment; filename*=UTF-8\'\'{"".join(f"%{b:02X}" for b in hostile.encode())}'
    (inbox / "a.eml").write_bytes(message([attachment(fills["3"], name)], message_id="<rlo@example.cn>"))
    (inbox / "on\u202edisk.eml").write_bytes(message([attachment(fills["5"], 'attachment; filename="x.xlsx"')]))
    done, sheets = collect([inbox], tmp_path)
    shown = [row[0] for row in sheets["来源"][1:]]
    mailed = next(n for n in shown if n.startswith("inbox/a.eml"))
    assert all(visible in mailed for visible in HIDDEN.values()), mailed
    assert "inbox/on<U+202E>disk.eml › x.xlsx" in shown
    everything = done.stdout + done.stderr + "".join(str(c) for row in sheets["来源"] + sheets["问题清单"] for c in row)
    assert not any(raw in everything for raw in HIDDEN), [raw for raw in HIDDEN if raw in everything]
    assert "<U+202E>" in done.stdout  # the terminal names the files it read, visibly


# ---- excluding a file by any name it is shown under (issue 19, item 8) --------------------------

def adjustments_excluding(tmp_path: Path, names: list[str]) -> Path:
    path = tmp_path / "调整表.xlsx"
    done = subprocess.run([EXE, "adjustments-template", "-o", path], capture_output=True, timeout=120)
    assert done.returncode == 0
    workbook = openpyxl.load_workbook(path)
    for row, name in enumerate(names, start=2):
        workbook["排除文件"].cell(row=row, column=1).value = name
        workbook["排除文件"].cell(row=row, column=2).value = "误发的版本"
    workbook.save(path)
    return path


def two_mails(fills, tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.eml").write_bytes(kfc_named(fills["1"], "kfc-first.xlsx", "Mon, 07 Jan 2008 09:00:00 +0800", 1))
    (inbox / "b.eml").write_bytes(kfc_named(fills["3"], "kfc.xlsx", "Mon, 07 Jan 2008 10:00:00 +0800", 2))
    return inbox


def kfc_named(data: bytes, name: str, date: str, number: int) -> bytes:
    return message([attachment(data, f'attachment; filename="{name}"')], date, message_id=f"<{number}@example.cn>")


def status_of(sheets, shown: str) -> str:
    return next(row[6] for row in sheets["来源"] if row[0] == shown)


@pytest.mark.parametrize("typed", ["kfc.xlsx", "inbox/b.eml › kfc.xlsx", "b.eml", "inbox/b.eml", " b.eml > KFC.xlsx ",
                                   "sha256"])
def test_a_file_is_excluded_by_any_name_it_is_shown_under(fills, tmp_path, typed):
    import hashlib
    inbox = two_mails(fills, tmp_path)
    if typed == "sha256":
        typed = hashlib.sha256(fills["3"]).hexdigest().upper()
    _, sheets = collect([inbox], tmp_path, "--adjustments", adjustments_excluding(tmp_path, [typed]))
    assert status_of(sheets, "inbox/b.eml › kfc.xlsx") == "已排除"
    assert status_of(sheets, "inbox/a.eml › kfc-first.xlsx") == "已读取"
    assert not problems_of(sheets, "采用较晚提交") and not problems_of(sheets, "不相符")


def test_an_exclusion_that_matches_nothing_is_reported(fills, tmp_path):
    inbox = two_mails(fills, tmp_path)
    done, sheets = collect([inbox], tmp_path, "--adjustments", adjustments_excluding(tmp_path, ["kfc.xlsx", "nothing.xlsx"]))
    (unmatched,) = problems_of(sheets, "不相符")
    assert unmatched["文件"] == "调整表.xlsx" and unmatched["工作表"] == "排除文件" and unmatched["单元格"] == "A3"
    assert "nothing.xlsx" in unmatched["说明"] and "nothing.xlsx" in done.stdout
    assert status_of(sheets, "inbox/b.eml › kfc.xlsx") == "已排除"
