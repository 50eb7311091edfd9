import hashlib

import openpyxl
import pytest
from click.testing import CliRunner

from assess_xl.publish import scorecard as report
from assess_xl.cli import main
from assess_xl.demo import fill_workbook
from conftest import typed_best
from helpers import write_forms

DISTRICTS = ["甲区", "乙区[新]"]
INJECTION = '=HYPERLINK("http://example.com","x")'


@pytest.fixture(scope="module")
def scorecard(book, tmp_path_factory):
    """Both districts report their best except: 乙区 has 2 violating approvals (6-1) and an
    injected formula in 1-1; 甲区 leaves 14-1 blank."""
    tmp = tmp_path_factory.mktemp("report")
    blank = write_forms(book, DISTRICTS, tmp / "forms")
    inbox = tmp / "inbox"
    inbox.mkdir()
    entries = {}
    for code, indicator in book.indicators.items():
        entries.setdefault(indicator.department, {})[code] = {d: typed_best(indicator) for d in DISTRICTS}
    entries["开发处"]["6-1"]["乙区[新]"] = "2"
    entries["办公室"]["1-1"]["乙区[新]"] = INJECTION
    entries["监察室"]["14-1"]["甲区"] = ""
    fill_workbook(blank["全部"], inbox / "全部.xlsx", entries)
    out = tmp / "考核结果.xlsx"
    result = CliRunner().invoke(main, ["collect", str(inbox), "-o", str(out)], catch_exceptions=False)
    return result, openpyxl.load_workbook(out), inbox / "全部.xlsx", out


def test_exit_and_summary(scorecard):
    result, _, _, _ = scorecard
    assert result.exit_code == 1  # written, but with an error and a 缺报
    assert "区 2 个" in result.output and "考核结果已写入" in result.output


def test_sheet_names(scorecard):
    _, wb, _, _ = scorecard
    assert wb.sheetnames == ["汇总", "甲区", "乙区_新_", "得分明细", "问题清单", "来源", "评分说明", "排名稳健性", "结果信息"]
    assert wb["结果信息"].sheet_state == "hidden" and wb["结果信息"]["B2"].value == "scorecard"


def test_summary_sheet(scorecard):
    _, wb, _, _ = scorecard
    ws = wb["汇总"]
    header = [c.value for c in ws[4]]
    assert header[0] == "区" and header[-5:] == ["基本分", "加分", "总分", "排名", "缺报项数"]
    rows = {ws.cell(r, 1).value: [c.value for c in ws[r]] for r in (5, 6)}
    # 甲区: 108 − 3 (target 14 缺报) = 105 + bonus 0.7; 乙区: 108 − 2 (6-1) − 2 (target 1 unscored) + 0.7
    assert rows["甲区"][-5:] == [105, 0.7, 105.7, 1, 1]
    assert rows["乙区[新]"][-5:] == [104, 0.7, 104.7, 2, 1]
    assert rows["甲区"][6] == 10 and rows["乙区[新]"][6] == 8  # category 6: 4 + 6, and 2 + 6
    assert ws.cell(5, 1).value == "甲区"  # sorted by rank
    assert ws.cell(5, 2).number_format == "0.00"
    assert "2个区有缺报项目" in ws["A3"].value
    assert {str(r.sqref) for r in ws.conditional_formatting} >= {"V5:V6"}


def test_chart_present(scorecard):
    import zipfile
    out = scorecard[3]
    with zipfile.ZipFile(out) as archive:
        chart = archive.read("xl/charts/chart1.xml").decode()
    assert "<c:barChart>" in chart and "汇总!$V$5:$V$6" in chart.replace("'", "")


def test_district_sheet(scorecard):
    _, wb, _, _ = scorecard
    ws = wb["乙区_新_"]
    assert ws["A1"].value.startswith("乙区[新]——")
    assert [ws["B2"].value, ws["D2"].value, ws["F2"].value, ws["H2"].value] == [104, 0.7, 104.7, 2]
    rows = {ws.cell(r, 2).value: r for r in range(5, ws.max_row + 1) if isinstance(ws.cell(r, 2).value, int)}
    r6 = rows[6]
    assert ws.cell(r6, 4).value == 4 and ws.cell(r6, 6).value == 2
    assert ws.cell(r6, 5).value == "违规审批项目数：2例"
    assert ws.cell(r6, 7).value == "基础分4分；违规审批项目数2例，扣2分"
    assert ws.cell(r6, 8).value == "开发处" and ws.cell(r6, 9).value == "正常"
    r1 = rows[1]
    assert ws.cell(r1, 9).value == "缺报" and ws.cell(r1, 6).value == 0
    said = ws.cell(r1, 7).value  # quotes the refused entry and says why it was not taken
    assert said.startswith("缺报：召开环保大会填写的“=HYPERLINK(") and said.endswith("”不是是/否，本项计0分")
    assert ws.cell(r1, 7).data_type == "s"
    shown = ws.cell(r1, 5).value
    assert INJECTION in shown and ws.cell(r1, 5).data_type == "s" and ws.cell(r1, 5).hyperlink is None
    assert ws.cell(r6 - 1, 2).value == "小计" and ws.cell(r6 - 1, 1).value == "6 建设项目环境管理"
    assert ws.cell(r6 - 1, 6).value == 8  # category subtotal: 2 + 6


def test_detail_sheet(scorecard):
    _, wb, _, _ = scorecard
    ws = wb["得分明细"]
    assert [c.value for c in ws[1]][:4] == ["区", "目标编号", "得分", "状态"]
    rows = [[c.value for c in row][:4] for row in ws.iter_rows(min_row=2)]
    assert len(rows) == 2 * 38
    assert ["甲区", 14, 0, "缺报"] in rows and ["乙区[新]", 6, 2, "正常"] in rows and ["甲区", 8, 5, "正常"] in rows


def test_problem_sheet(scorecard):
    _, wb, _, _ = scorecard
    ws = wb["问题清单"]
    assert [c.value for c in ws[1]][:7] == ["级别", "文件", "工作表", "单元格", "区", "编号", "说明"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    injected = [r for r in rows if r[5] == "1-1"]
    assert injected[0][:6] == ["错误", "inbox/全部.xlsx", "办公室", "I4", "乙区[新]", "1-1"]
    assert injected[0][7] == INJECTION
    assert ws.cell(rows.index(injected[0]) + 2, 8).data_type == "s"
    missing = [r for r in rows if r[5] == "14-1"]
    assert missing[0][:6] == ["错误", "inbox/全部.xlsx", "监察室", "H4", "甲区", "14-1"]


def test_sources_sheet(scorecard):
    _, wb, source, _ = scorecard
    ws = wb["来源"]
    row = [c.value for c in ws[2]]
    assert row[0] == "inbox/全部.xlsx"
    assert row[1] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert row[2] == source.stat().st_size and row[6] == "已读取"
    assert row[7].startswith("办公室、综合处")


def test_print_setup(scorecard):
    _, wb, _, _ = scorecard
    for name in ("汇总", "甲区", "问题清单"):
        ws = wb[name]
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert wb["问题清单"].sheet_properties.pageSetUpPr.fitToPage
    # 汇总 and a district sheet print at the scale that makes their columns fill the page's width (so a
    # district's page breaks hold, and LibreOffice need not search for the zoom)
    for name in ("汇总", "甲区"):
        assert not wb[name].sheet_properties.pageSetUpPr.fitToPage and 50 <= wb[name].page_setup.scale <= 80
    assert wb["汇总"].freeze_panes == "B5" and wb["甲区"].print_title_rows == "$1:$4"


def test_safe_sheet_names():
    names = ["a/b", "a:b", "x" * 40, "汇总", "'引号'", "History", "甲[1]*?"]
    out = report.safe_sheet_names(names)
    assert [out[n] for n in names] == ["a_b", "a_b(2)", "x" * 31, "汇总(2)", "引号", "History(2)", "甲_1___"]


# ---- the official sheets read as a document (issue 13, point 1) --------------------------------

def test_summary_reads_as_a_document(scorecard, book):
    _, wb, _, _ = scorecard
    ws = wb["汇总"]
    assert ws["A1"].value == "2007年度各区环保局主要工作目标考核结果汇总" and ws["A1"].value.count("年度") == 1
    assert ws["A2"].value.startswith("市环境保护局　　") and ws["A2"].value.endswith("日")
    texts = " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
    for diagnostic in ("读取文件", "问题清单", "生成时间", "SHA"):
        assert diagnostic not in texts
    assert "（盖章）" in texts and texts.count("市环境保护局") == 2
    assert all(ws.cell(r, 1).hyperlink is None for r in (5, 6))
    assert ws.oddFooter.center.text == "第 &P 页 共 &N 页"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9


def test_district_sheets_carry_no_coordinator_notes(scorecard, book):
    _, wb, _, _ = scorecard
    ws = wb["甲区"]
    assert ws["A1"].value.count("年度") == 1
    texts = " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)
    notes = [c.note for c in book.categories if c.note] + [t.note for t in book.targets if t.note]
    assert notes and not [n for n in notes if n in texts]
    assert "市环境保护局" in ws.oddHeader.right.text


def test_notes_and_working_sheets(scorecard, book):
    _, wb, _, _ = scorecard
    notes = [[c.value for c in row] for row in wb["评分说明"].iter_rows(min_row=2)]
    assert any(row[1] == 2 and "5分" in row[2] for row in notes)  # target 2's decision
    for name in ("得分明细", "问题清单", "来源", "评分说明"):
        assert wb[name].sheet_properties.tabColor.rgb.endswith("A6A6A6")
        assert "内部核对用" in wb[name].oddHeader.center.text
    for name in ("汇总", "甲区"):
        assert wb[name].sheet_properties.tabColor is None


def test_reported_texts_are_each_values_own_whatever_was_made_before(book):
    """A district's reported texts are _reported's for each of its values, when the same code and value came
    before (made once), for a zero of either sign, a blank, text and an entry not taken."""
    import math
    from types import SimpleNamespace

    import pandas as pd

    kinds = {indicator.type: code for code, indicator in reversed(book.indicators.items())}
    values = [1.0, 2.0, 0.0, -0.0, math.nan, 0.5, 1.0, -0.0, 0.0, 12.5, 3, True, "是"]
    choices = [1.0, 0.0, -0.0, math.nan, 1.0, 0.0, True, 0, "是"]
    rows = [(f"区{n}", code, value, n % 5 != 4, f"原文{n}") for kind, code in kinds.items()
            for n, value in enumerate(choices if kind == "choice" else values)]
    rows = [row for row in rows if not (row[3] and isinstance(row[2], str))]  # a value taken is a number
    winners = pd.DataFrame(rows, columns=["district", "code", "value", "valid", "raw"])
    reported = report.ReportedTexts(book, SimpleNamespace(winners=winners))
    for _ in range(2):
        for district in dict.fromkeys(row[0] for row in rows):
            texts = reported.of(district)
            last = {code: (value, valid, raw) for d, code, value, valid, raw in rows if d == district}
            assert texts == {code: report._reported(book.indicators[code], *seen) for code, seen in last.items()}
