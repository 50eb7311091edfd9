import pytest

from assess_xl import merge, status
from assess_xl.demo import fill_workbook
from helpers import set_saved_time, write_forms

DISTRICTS = ["甲区", "乙区"]


@pytest.fixture
def read(book, tmp_path):
    blank = write_forms(book, DISTRICTS, tmp_path / "blank")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fill_workbook(blank["办公室"], inbox / "办公室.xlsx", {"办公室": {"1-1": {"甲区": "是", "乙区": "是"},
                                                                  "1-2": {"甲区": "否", "乙区": "是"}}})
    fill_workbook(blank["开发处"], inbox / "开发处.xlsx", {"开发处": {"6-1": {"甲区": "0"}}})
    set_saved_time(inbox / "办公室.xlsx", "2008-01-05T08:00:00Z")
    return merge.read_paths([inbox], book)


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
