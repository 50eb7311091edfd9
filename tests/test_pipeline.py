"""The library pipeline: one call from inputs to a scorecard, with a typed outcome."""
import openpyxl
import pytest

from assess_xl.read import dispatch

from assess_xl import pipeline

from assess_xl.publish import scorecard as report
from assess_xl.pipeline import CollectOptions, Outcome
from helpers import cannot_import, returned_forms

DISTRICTS = ["甲区", "乙区"]


@pytest.fixture
def inbox(book, tmp_path):
    return returned_forms(book, tmp_path, {"开发处": {"6-1": {"甲区": "1", "乙区": "0"}}}, DISTRICTS)


def test_collect_returns_a_scorecard(book, inbox, tmp_path):
    result = pipeline.collect([inbox[1]], book)
    assert result.outcome is Outcome.WRITTEN and result.content.startswith(b"PK")
    assert result.read.districts == DISTRICTS and not result.complete  # other departments owe their returns
    path = tmp_path / "r.xlsx"
    path.write_bytes(result.content)
    assert openpyxl.load_workbook(path)["汇总"]["A5"].value in DISTRICTS


@pytest.mark.parametrize("entered", ["2\r3", "2\r\n3", "2\x853", "2\u20293"])
def test_an_entry_holding_a_paragraph_break_is_written_into_the_scorecard(book, tmp_path, entered):
    """A break the printing font's layout will not measure inside a line (a carriage return from a returned
    form) starts a line of its own where the scorecard quotes the entry, instead of failing the run."""
    inbox = returned_forms(book, tmp_path, {"开发处": {"6-1": {"甲区": entered, "乙区": "0"}}}, DISTRICTS)
    result = pipeline.collect([inbox[1]], book)
    assert result.outcome is Outcome.WRITTEN and result.content.startswith(b"PK")


def test_blank_forms_only_say_nothing_was_filled(book, inbox):
    result = pipeline.collect([inbox[0]["全部"], inbox[0]["开发处"]], book)
    assert result.outcome is Outcome.NOTHING_FILLED and result.content == b""


def test_own_scorecard_in_the_inbox_is_recognised_and_skipped(book, inbox):
    first = pipeline.collect([inbox[1]], book)
    (inbox[1] / "考核结果.xlsx").write_bytes(first.content)
    again = pipeline.collect([inbox[1]], book, CollectOptions(output=inbox[1] / "考核结果.xlsx"))
    assert again.outcome is Outcome.WRITTEN
    (own,) = [f for f in again.read.files if f.info.name.endswith("考核结果.xlsx")]
    assert own.status == "本工具输出"
    assert not [p for p in again.read.problems if p.file.endswith("考核结果.xlsx") and p.level != "提示"]
    assert again.read.values.equals(first.read.values)


def test_status_workbook_in_the_inbox_is_skipped(book, inbox):
    read, _ = pipeline.read([inbox[1]], book)
    from assess_xl.publish import status
    content = report.status_workbook(status.matrix(book, read), status.files(book, read), book.title,
                                     __import__("datetime").datetime(2008, 1, 1))
    (inbox[1] / "填报情况.xlsx").write_bytes(content)
    again = pipeline.collect([inbox[1]], book)
    (own,) = [f for f in again.read.files if f.info.name.endswith("填报情况.xlsx")]
    assert own.status == "本工具输出" and again.read.districts == DISTRICTS


def test_output_that_is_a_returned_form_is_refused(book, inbox):
    result = pipeline.collect([inbox[1]], book, CollectOptions(output=inbox[1] / "开发处.xlsx"))
    assert result.outcome is Outcome.OUTPUT_IS_INPUT and result.content == b""


def test_a_reader_that_cannot_start_is_not_blamed_on_the_file(book, inbox, monkeypatch):
    monkeypatch.setattr(dispatch, "read_unit", cannot_import)
    result = pipeline.collect([inbox[1]], book)
    assert result.outcome is Outcome.WORKER_FAILED and result.content == b""
    assert result.read.worker_failures == ["inbox/开发处.xlsx"]


MEASURE = """
import json, sys
from assess_xl import pipeline
from assess_xl.rules import load as rulebook
result = pipeline.collect([sys.argv[1]], rulebook.load())
totals = {} if result.scores is None else result.scores.totals["总分"].to_dict()
rejected = sorted(f.info.name for f in result.read.files if f.status == "已拒绝")
# VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a child of a large pytest process would
# report pytest's own peak (1,083 MB in CI for a clean run) instead of its own.
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"totals": totals, "rejected": rejected, "outcome": result.outcome.value,
                  "peak_mb": peak_kib / 1024}, ensure_ascii=False))
"""


def far_cell_workbook(cell: str, value: int = 1) -> bytes:
    import io
    import xlsxwriter
    from xlsxwriter.utility import xl_cell_to_rowcol
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    row, col = xl_cell_to_rowcol(cell)
    workbook.add_worksheet("办公室").write_number(row, col, value)
    workbook.close()
    return buffer.getvalue()


def measured_collect(folder):
    import json
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", MEASURE, str(folder)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_crafted_files_do_not_make_good_files_fail(tmp_path):
    """Issue 15, point 1: the demo's 12 returns beside 16 files with a cell at KN100000, one at GJH100000
    and six 49 MB junk files. The good totals are those of the clean run; the main process stays small."""
    import os
    import shutil
    from click.testing import CliRunner
    from assess_xl.cli import main
    CliRunner().invoke(main, ["demo", "-o", str(tmp_path / "demo")])
    clean = tmp_path / "demo" / "2-交回的填报表"
    hostile = tmp_path / "hostile"
    shutil.copytree(clean, hostile)
    for n in range(16):
        (hostile / f"far-{n:02d}.xlsx").write_bytes(far_cell_workbook("KN100000", n))
    (hostile / "farther.xlsx").write_bytes(far_cell_workbook("GJH100000"))
    for n in range(6):
        (hostile / f"junk-{n}.xlsx").write_bytes(b"PK\x03\x04" + os.urandom(49 * 1024 * 1024))
    before = measured_collect(clean)
    after = measured_collect(hostile)
    print(f"peak memory of the main process: clean {before['peak_mb']:.0f} MB, crafted inbox {after['peak_mb']:.0f} MB")
    assert after["outcome"] == "written" and after["totals"] == before["totals"]
    assert len(after["rejected"]) == 16 + 1 + 6 and not [n for n in after["rejected"] if "已填" in n or "全部" in n]
    assert after["peak_mb"] < 1024
