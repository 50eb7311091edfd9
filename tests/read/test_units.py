"""What a gathered file is read as (read.units): copies of one workbook read by one child."""
import shutil
from dataclasses import asdict

from assess_xl.demo import fill_workbook
from assess_xl.read import merge
from assess_xl.read.form import READ, read_one
from assess_xl.read.units import Unit, read_unit
from helpers import read_paths, write_forms

DISTRICTS = ["甲区", "乙区"]
ENTRIES = {"开发处": {"6-1": {"甲区": "2", "乙区": "很多"}}}  # one entry a problem: a copy repeats it


def inbox_with_copies(book, tmp_path):
    """开发处's return, two byte-identical copies of it under other names, and 调研室's return."""
    blank = write_forms(book, DISTRICTS, tmp_path / "blank")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fill_workbook(blank["开发处"], inbox / "a.xlsx", ENTRIES)
    shutil.copyfile(inbox / "a.xlsx", inbox / "b-again.xlsx")
    shutil.copyfile(inbox / "a.xlsx", inbox / "c-once-more.xlsx")
    fill_workbook(blank["调研室"], inbox / "d.xlsx", {"调研室": {"16-1": {"甲区": "40", "乙区": "12"}}})
    return inbox


def unit(path, order):
    return Unit(str(path), path.name, "file", (order,))


def test_a_copy_read_after_its_original_in_one_run_is_not_parsed_again(book, tmp_path):
    inbox = inbox_with_copies(book, tmp_path)
    [first] = read_unit(unit(inbox / "a.xlsx", 0), book, None, "run-1")
    [copy] = read_unit(unit(inbox / "b-again.xlsx", 1), book, None, "run-1")
    assert first.sheets and first.sheets[0].problems
    assert (copy.status, copy.reason, copy.sheets, copy.problems) == (READ, "", [], [])
    same = {key: value for key, value in asdict(first.info).items() if key not in ("path", "name", "modified")}
    assert {key: value for key, value in asdict(copy.info).items() if key in same} == same
    assert copy.info.name == "b-again.xlsx"


def test_a_copy_is_read_whole_when_given_first_in_another_run_or_outside_a_run(book, tmp_path):
    inbox = inbox_with_copies(book, tmp_path)
    read_unit(unit(inbox / "a.xlsx", 1), book, None, "run-2")
    assert read_unit(unit(inbox / "b-again.xlsx", 0), book, None, "run-2")[0].sheets  # given before the original
    assert read_unit(unit(inbox / "c-once-more.xlsx", 2), book, None, "run-3")[0].sheets  # another run
    assert read_unit(unit(inbox / "c-once-more.xlsx", 2), book)[0].sheets  # no run named


def test_copies_read_in_one_child_give_the_result_of_every_file_read_whole(book, tmp_path):
    """The run with its children (one child: every copy meets its original) against each file read on its
    own in this process: the same problems, files, verdicts and values."""
    inbox = inbox_with_copies(book, tmp_path)
    result = read_paths([inbox], book, workers=1)
    paths = sorted(inbox.iterdir())
    whole = merge.merge_reads([read_one((str(path), f"inbox/{path.name}"), book) for path in paths], [], [], book)
    assert result.problems == whole.problems
    assert [(f.info.name, f.status, f.reason, f.info.sha256, f.info.saved, f.supplied) for f in result.files] == \
        [(f.info.name, f.status, f.reason, f.info.sha256, f.info.saved, f.supplied) for f in whole.files]
    assert {f.info.name: f.status for f in result.files} == {"inbox/a.xlsx": "已读取", "inbox/b-again.xlsx": "重复",
                                                             "inbox/c-once-more.xlsx": "重复", "inbox/d.xlsx": "已读取"}
    assert result.values.equals(whole.values)
