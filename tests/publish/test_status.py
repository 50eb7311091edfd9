import csv

import pytest


from assess_xl.publish import status
from assess_xl.demo import fill_workbook
from helpers import assess_xl, returned_forms, set_saved_time, write_forms
from helpers import read_paths

DISTRICTS = ["甲区", "乙区"]


@pytest.fixture
def read(book, tmp_path):
    _, inbox = returned_forms(book, tmp_path, {"办公室": {"1-1": {"甲区": "是", "乙区": "是"}, "1-2": {"甲区": "否", "乙区": "是"}},
                                               "开发处": {"6-1": {"甲区": "0"}}}, DISTRICTS)
    set_saved_time(inbox / "办公室.xlsx", "2008-01-05T08:00:00Z")
    return read_paths([inbox], book)


def test_matrix(book, read):
    table = status.matrix(book, read)
    assert list(table.columns) == ["甲区", "乙区"]
    assert list(table.index)[:3] == ["办公室", "综合处", "创模办"]
    assert table.loc["办公室", "甲区"] == "已填齐" and table.loc["办公室", "乙区"] == "已填齐"
    assert table.loc["开发处", "甲区"] == "已填 1/4" and table.loc["开发处", "乙区"] == "未交"
    assert table.loc["综合处", "甲区"] == "未交"
    files = status.files(book, read)
    assert files["办公室"].startswith("inbox/办公室.xlsx（01-05 ")
    assert files["综合处"] == ""


def test_owing(book, read):
    owed = status.owing(status.matrix(book, read))
    assert "办公室" not in owed
    assert owed["开发处"] == ["甲区", "乙区"] and owed["综合处"] == ["甲区", "乙区"]


def test_optional_blank_cells_are_owed_by_nobody(book, tmp_path):
    """综合处 fills its required items and leaves the optional bonus items (target 38) blank: status, remind
    and returns agree that it owes nothing (one definition of "owed")."""
    blank = write_forms(book, DISTRICTS, tmp_path / "blank")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fill_workbook(blank["综合处"], inbox / "综合处.xlsx", {"综合处": {code: {"甲区": "是", "乙区": "否"}
                                                                  for code in ("2-1", "2-2", "2-3", "4-3")}})
    fill_workbook(blank["开发处"], inbox / "开发处.xlsx", {"开发处": {"6-1": {"甲区": "0"}}})
    done = assess_xl("status", inbox)
    assert done.returncode == 1, done.stderr  # other departments still owe
    (row,) = [line for line in done.stdout.splitlines() if line.startswith("│ 综合处 ")]
    assert "齐全" in row and "2/2" in row
    assert "待催报：综合处" not in done.stdout and "待催报：开发处" in done.stdout
    contacts = tmp_path / "通讯录.csv"
    contacts.write_text("部门,联系人,邮箱\n综合处,张三,zhc@example.cn\n开发处,李四,kfc@example.cn\n", encoding="utf-8")
    reminded = assess_xl("send", "remind", inbox, "--contacts", contacts, "--from", "zhc@example.cn",
                         "--outbox", tmp_path / "发件箱")
    assert reminded.returncode == 1, reminded.stderr  # the departments without an address got nothing
    assert "没有给它们发送：" in reminded.stderr and "综合处" not in reminded.stderr.split("没有给它们发送：")[1]
    with open(tmp_path / "发件箱" / "发送记录.csv", encoding="utf-8-sig") as handle:
        assert [row["部门"] for row in csv.DictReader(handle)] == ["开发处"]
    returned = assess_xl("returns", inbox, "-o", tmp_path / "退回")
    assert returned.returncode == 0, returned.stderr
    names = sorted(p.name for p in (tmp_path / "退回").iterdir())
    assert any("开发处" in name for name in names) and not any("综合处" in name for name in names)
