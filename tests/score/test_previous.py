"""Compared with last year: 上年总分, 上年排名, 变化, last year's category scores, implausible changes."""
import io
import shutil

import openpyxl
import pytest
from click.testing import CliRunner

from assess_xl import pipeline

from assess_xl.score import previous

from assess_xl.xlsx.parse import parse_workbook
from assess_xl.cli import main
from assess_xl.demo import fill_workbook
from assess_xl.pipeline import CollectOptions
from helpers import assess_xl, rulebook_2008, write_forms


@pytest.fixture(scope="module")
def years(book, tmp_path_factory):
    """Last year: the demo. This year: the same returns plus later copies changing 6-1 for 栖霞区 from
    1 to 7 (more than ×5), 6-1 for 玄武区 from 0 to 6 (from 0 to many), 33-1 for 秦淮区 from 75% to 20%
    (more than 50 points) and 9-1 for 鼓楼区 from 是 to 否."""
    folder = tmp_path_factory.mktemp("years")
    assert CliRunner().invoke(main, ["demo", "-o", str(folder / "demo")]).exit_code == 0
    last = pipeline.collect([folder / "demo" / "2-交回的填报表"], book)
    inbox = folder / "this-year"
    shutil.copytree(folder / "demo" / "2-交回的填报表", inbox)
    blank = folder / "demo" / "1-空白填报表"
    fill_workbook(blank / "2007年度目标考核填报表-开发处.xlsx", inbox / "开发处-更正.xlsx",
                  {"开发处": {"6-1": {"栖霞区": "7", "玄武区": "6"}}})
    fill_workbook(blank / "2007年度目标考核填报表-信息中心.xlsx", inbox / "信息中心-更正.xlsx",
                  {"信息中心": {"33-1": {"秦淮区": "20%"}}})
    fill_workbook(blank / "2007年度目标考核填报表-法规科技处.xlsx", inbox / "法规科技处-更正.xlsx",
                  {"法规科技处": {"9-1": {"鼓楼区": "否"}}})
    now = pipeline.collect([inbox], book, CollectOptions(previous=last.content, previous_name="2007结果.xlsx"))
    return last, now


def test_last_years_result_is_read_from_hidden_metadata(years):
    last, _ = years
    data = previous.read(parse_workbook(last.content))
    assert set(data.totals) == set(last.scores.districts)
    for district in last.scores.districts:
        assert data.totals[district]["总分"] == pytest.approx(last.scores.totals.loc[district, "总分"])
        assert data.categories[district]["6"] == pytest.approx(last.scores.categories.loc[district, 6])


def test_change_columns_are_exact(years):
    last, now = years
    sheet = openpyxl.load_workbook(io.BytesIO(now.content))["汇总"]
    header = [c.value for c in sheet[4]]
    assert header[-3:] == ["上年总分", "上年排名", "变化"]
    for row in sheet.iter_rows(min_row=5, max_row=4 + len(now.scores.districts), values_only=True):
        district = row[0]
        assert row[-3] == pytest.approx(last.scores.totals.loc[district, "总分"])
        assert row[-2] == last.scores.totals.loc[district, "排名"]
        assert row[-1] == pytest.approx(round(now.scores.totals.loc[district, "总分"] - last.scores.totals.loc[district, "总分"], 2))


def test_district_sheets_show_last_years_category_scores(years):
    last, now = years
    sheet = openpyxl.load_workbook(io.BytesIO(now.content))["栖霞区"]
    assert sheet["J4"].value == "上年得分"
    row = next(r for r in range(5, sheet.max_row + 1) if str(sheet.cell(r, 1).value).startswith("6 "))
    assert sheet.cell(row, 10).value == pytest.approx(last.scores.categories.loc["栖霞区", 6])


def test_only_the_planted_changes_are_flagged(years):
    _, now = years
    flagged = sorted((p.district, p.code) for p in now.read.problems if p.kind == "implausible_change")
    assert flagged == [("栖霞区", "6-1"), ("玄武区", "6-1"), ("秦淮区", "33-1"), ("鼓楼区", "9-1")]
    assert all(p.level == "提示" for p in now.read.problems if p.kind == "implausible_change")
    assert not [p for p in now.read.problems if p.kind == "previous_rules_changed"]  # same rules


def test_a_file_that_is_not_a_scorecard_is_said_once(book, years):
    last, _ = years
    inbox = [f.info.path.parent for f in last.read.files][0]
    result = pipeline.collect([inbox], book, CollectOptions(previous=b"junk", previous_name="x.xlsx"))
    assert result.outcome is pipeline.Outcome.WRITTEN
    assert [p.file for p in result.read.problems if p.kind == "previous_not_scorecard"] == ["x.xlsx"]
    assert "上年总分" not in [c.value for c in openpyxl.load_workbook(io.BytesIO(result.content))["汇总"][4]]
    with pytest.raises(previous.PreviousError):
        previous.read({})


def test_cli_previous(years, tmp_path):
    last, _ = years
    (tmp_path / "2007.xlsx").write_bytes(last.content)
    inbox = [f.info.path.parent for f in last.read.files][0]
    result = CliRunner().invoke(main, ["collect", str(inbox), "-o", str(tmp_path / "r.xlsx"),
                                       "--previous", str(tmp_path / "2007.xlsx")])
    assert result.exit_code == 1
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx")["汇总"]
    assert [c.value for c in sheet[4]][-1] == "变化" and sheet.cell(5, len(sheet[4])).value == 0


def problem_rows(path):
    sheet = openpyxl.load_workbook(path)["问题清单"]
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, row)) for row in sheet.iter_rows(min_row=2, values_only=True)]


def test_cli_notes_against_a_year_of_other_rules(book, tmp_path):
    """Last year 2007, this year a 2008 rulebook with one code renamed and one type changed: only those two
    are said not comparable (codes blank in both years are not), and an implausible change names this
    year's return, its sheet and cell."""
    blank = write_forms(book, ["甲区", "乙区"], tmp_path / "2007表")
    (tmp_path / "2007收件箱").mkdir()
    fill_workbook(blank["开发处"], tmp_path / "2007收件箱" / "开发处.xlsx", {"开发处": {"6-1": {"甲区": "1", "乙区": "0"}}})
    assert assess_xl("collect", tmp_path / "2007收件箱", "-o", tmp_path / "2007结果.xlsx").returncode == 1
    rules = rulebook_2008(tmp_path)
    assert assess_xl("forms", "--rules", rules, "--districts", "甲区,乙区", "-o", tmp_path / "2008表").returncode == 0
    (tmp_path / "2008收件箱").mkdir()
    fill_workbook(tmp_path / "2008表" / "2008年度目标考核填报表-开发处.xlsx", tmp_path / "2008收件箱" / "开发处.xlsx",
                  {"开发处": {"6-1": {"甲区": "9", "乙区": "0"}}})
    done = assess_xl("collect", tmp_path / "2008收件箱", "--rules", rules, "-o", tmp_path / "r.xlsx",
                     "--previous", tmp_path / "2007结果.xlsx")
    assert done.returncode == 1, done.stderr
    rows = problem_rows(tmp_path / "r.xlsx")
    (changed,) = [r for r in rows if "无法与上年比较" in r["说明"]]
    assert changed["说明"].endswith("16-1a（上年没有此指标）、38-3（类型不同）。")
    (odd,) = [r for r in rows if "变化异常" in r["说明"]]
    assert odd["文件"].endswith("2008收件箱/开发处.xlsx") and odd["工作表"] == "开发处" and odd["单元格"]
    assert (odd["区"], odd["编号"]) == ("甲区", "6-1") and "上年1例（2007结果.xlsx），今年9例" in odd["说明"]
    sheet = openpyxl.load_workbook(tmp_path / "2008收件箱" / "开发处.xlsx")["开发处"]
    assert sheet[odd["单元格"]].value == 9
