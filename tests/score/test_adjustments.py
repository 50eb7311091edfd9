"""The coordinator's adjustments (复核、更正) and exclusions: validated, applied last, recorded."""
import io

import openpyxl
import pytest
from click.testing import CliRunner

from assess_xl.score import adjustments

from assess_xl import pipeline
from assess_xl.cli import main
from assess_xl.pipeline import CollectOptions
from helpers import assess_xl, returned_forms

DISTRICTS = ["甲区", "乙区"]


@pytest.fixture
def inbox(book, tmp_path):
    _, folder = returned_forms(book, tmp_path, {
        "开发处": {"6-1": {"甲区": "3", "乙区": "0"}, "7-1": {"甲区": "是", "乙区": "是"},
                 "7-2": {"甲区": "0", "乙区": "0"}, "7-3": {"甲区": "0", "乙区": "0"}},
        "调研室": {"16-1": {"甲区": "1", "乙区": "1"}}}, DISTRICTS, file_names={"调研室": "调研室-误发"})
    return folder


def adjustment_book(book, rows, excluded=()):
    workbook = openpyxl.load_workbook(io.BytesIO(adjustments.template(book, DISTRICTS)))
    for row in rows:
        workbook["调整"].append(list(row))
    for row in excluded:
        workbook["排除文件"].append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def collect(book, folder, content):
    return pipeline.collect([folder], book, CollectOptions(adjustments=content, adjustments_name="调整表.xlsx"))


def test_template_has_its_sheets_and_dropdowns(book):
    workbook = openpyxl.load_workbook(io.BytesIO(adjustments.template(book, DISTRICTS)))
    assert workbook.sheetnames[:2] == ["调整", "排除文件"]
    assert [c.value for c in workbook["调整"][1]] == list(adjustments.CHANGE_HEADERS)
    kinds = {str(v.sqref): (v.type, v.formula1) for v in workbook["调整"].data_validations.dataValidation}
    assert kinds["B2:B501"][0] == "list" and kinds["A2:A501"][0] == "list" and kinds["D2:D501"][0] == "textLength"
    assert workbook["选项"].sheet_state == "hidden"


def test_a_changed_value_changes_exactly_its_target(book, inbox):
    before = pipeline.collect([inbox], book)
    after = collect(book, inbox, adjustment_book(book, [("甲区", "6-1", 1, "复核：其中2例经省厅认定不属违规", "张三", "2008-01-20")]))
    changed = (before.scores.targets != after.scores.targets)
    assert changed.sum().sum() == 1 and changed.loc["甲区", 6]
    assert after.scores.targets.loc["甲区", 6] == before.scores.targets.loc["甲区", 6] + 2
    text = after.explanations.loc["甲区", 6]
    assert "经复核调整：违规审批项目数由3例改为1例（复核：其中2例经省厅认定不属违规）" in text
    workbook = openpyxl.load_workbook(io.BytesIO(after.content))
    record = [[c.value for c in row] for row in workbook["调整记录"].iter_rows(min_row=2)]
    assert record == [["甲区", "6-1", "违规审批项目数", "3例", "1例", "复核：其中2例经省厅认定不属违规", "张三", "2008-01-20", 2]]
    sources = [[c.value for c in row] for row in workbook["来源"].iter_rows(min_row=2)]
    assert any(row[0] == "调整表.xlsx" and row[6] == "调整表" for row in sources)


@pytest.mark.parametrize("row,code,cell", [
    (("丁区", "6-1", 1, "理由"), "adjustment_district", "A2"),
    (("甲区", "99-9", 1, "理由"), "adjustment_code", "B2"),
    (("甲区", "6-1", "两例", "理由"), "adjustment_value", "C2"),
    (("甲区", "6-1", 1.5, "理由"), "adjustment_value", "C2"),
    (("甲区", "6-1", 1, None), "adjustment_no_reason", "D2"),
])
def test_bad_rows_are_refused_with_the_row_named(book, inbox, row, code, cell):
    before = pipeline.collect([inbox], book)
    after = collect(book, inbox, adjustment_book(book, [row]))
    (problem,) = [p for p in after.read.problems if p.kind == code]
    assert (problem.file, problem.sheet, problem.cell) == ("调整表.xlsx", "调整", cell)
    assert after.scores.targets.equals(before.scores.targets)


def test_an_excluded_file_contributes_nothing_and_is_listed(book, inbox):
    after = collect(book, inbox, adjustment_book(book, [], [("调研室-误发.xlsx", "误发的旧版本，以重发件为准")]))
    assert after.read.values["16-1"].isna().all()
    (report,) = [f for f in after.read.files if f.info.name.endswith("调研室-误发.xlsx")]
    assert report.status == "已排除" and "误发的旧版本" in report.reason


def test_cli_template_and_collect(book, inbox, tmp_path):
    assert CliRunner().invoke(main, ["adjustments-template", "-o", str(tmp_path / "调整表")]).exit_code == 0
    assert CliRunner().invoke(main, ["adjustments-template", "-o", str(tmp_path / "调整表")]).exit_code == 2  # kept
    workbook = openpyxl.load_workbook(tmp_path / "调整表.xlsx")
    workbook["调整"].append(["乙区", "6-1", 2, "复核发现漏报2例", "李四"])
    workbook.save(tmp_path / "调整表.xlsx")
    result = CliRunner().invoke(main, ["collect", str(inbox), "-o", str(tmp_path / "r.xlsx"),
                                       "--adjustments", str(tmp_path / "调整表.xlsx")])
    assert result.exit_code == 1
    assert openpyxl.load_workbook(tmp_path / "r.xlsx")["调整记录"]["E2"].value == "2例"
    (tmp_path / "调整表.xlsx").rename(inbox / "调整表.xlsx")  # the tool's own file in the inbox is skipped
    again = pipeline.collect([inbox], book)
    (own,) = [f for f in again.read.files if f.info.name.endswith("调整表.xlsx")]
    assert own.status == "本工具输出"


def test_cli_names_the_row_and_counts_the_coordinators_rows_apart(book, inbox, tmp_path):
    """A bad row says sheet and row (not "第格"), and the terminal's per-department table lists it as the
    coordinator's own item, not under the department owning the code."""
    path = tmp_path / "调整表.xlsx"
    path.write_bytes(adjustment_book(book, [("甲区", "6-1", 1, "复核意见"), ("乙区", "6-1", 2, None)]))
    done = assess_xl("collect", inbox, "-o", tmp_path / "r.xlsx", "--adjustments", path)
    assert done.returncode == 1, done.stderr
    assert "“调整”工作表第3行没有写调整理由" in done.stdout
    assert "第格" not in done.stdout and "第D3格" not in done.stdout
    table = [line for line in done.stdout.splitlines() if line.startswith("│")]
    (coordinator,) = [line for line in table if "综合处复核（调整表）" in line]
    assert coordinator.split("│")[4].strip() == "1"  # 需改正单元格
    assert not [line for line in table if line.split("│")[1].strip() == "开发处"]  # its own rows are all fine
    workbook = openpyxl.load_workbook(tmp_path / "r.xlsx")
    listed = [[c.value for c in row] for row in workbook["问题清单"].iter_rows(min_row=2)]
    assert any(row[2] == "调整" and row[3] == "D3" and "第3行" in row[6] for row in listed)


def test_problems_with_adjustments_and_exclusions_are_in_the_order_shown_sorted_once(book, inbox, monkeypatch):
    """Merge gives its problems in 问题清单's order; what the run adds (unmatched exclusions, refused rows, unknown
    senders) is sorted in with them, and nothing is sorted again when nothing is added."""
    from assess_xl import problems
    content = adjustment_book(book, [("甲区", "6-1", 1, "复核意见"), ("乙区", "6-1", 2, None)],
                              [("调研室-误发.xlsx", "误发"), ("没有这个文件.xlsx", "误发")])
    options = CollectOptions(adjustments=content, adjustments_name="调整表.xlsx", known_senders=frozenset())
    result, _ = pipeline.read([inbox], book, options)
    assert {"adjustment_invalid", "exclusion_unmatched"} & {p.kind for p in result.problems}
    assert result.problems == sorted(result.problems, key=problems.sort_key)
    plain, _ = pipeline.read([inbox], book)
    assert plain.problems == sorted(plain.problems, key=problems.sort_key)
    sorts, in_merge = [], []
    monkeypatch.setattr(problems, "sort_key", lambda problem: sorts.append(1) or (0,))
    merge_reads = pipeline.merge.merge_reads

    def counted(*args, **kwargs):
        before = len(sorts)
        result = merge_reads(*args, **kwargs)
        in_merge.append(len(sorts) - before)
        return result
    monkeypatch.setattr(pipeline.merge, "merge_reads", counted)
    pipeline.read([inbox], book)
    assert in_merge and len(sorts) == sum(in_merge)  # merge's own keys only: nothing sorted again after it
