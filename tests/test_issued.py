"""What leaves the bureau (issue 18, items 1-3), through the installed `assess-xl` script: notices and
scorecard sheets that blame no district for the rulebook's own gaps, a PDF whose pages lose no text,
and titles that read whole."""
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from assess_xl.demo import fill_workbook
from test_report import typed_best

EXE = Path(sys.executable).parent / "assess-xl"
# The 2007 rulebook's gaps, as the source table has them: target 2 is worth 6 but its items give 2+2+1,
# target 5 is worth 8 but its one item gives 7.
GAPS = {2: (6, 5), 5: (8, 7)}


def run_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    assert EXE.exists(), "the console script is installed by pip install"
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=900, cwd=cwd)


def filled_year(book, folder: Path, districts: list[str], changes: dict[str, dict[str, str]]) -> Path:
    """Forms made by `assess-xl forms`, every district answering its best except `changes` (code → district → typed)."""
    done = run_cli("forms", "--districts", ",".join(districts), "-o", folder / "forms")
    assert done.returncode == 0, done.stdout + done.stderr
    entries: dict = {}
    for code, indicator in book.indicators.items():
        entries.setdefault(indicator.department, {})[code] = {d: typed_best(indicator) for d in districts}
        entries[indicator.department][code].update(changes.get(code, {}))
    inbox = folder / "inbox"
    inbox.mkdir()
    blank = next((folder / "forms").glob("*全部部门.xlsx"))
    fill_workbook(blank, inbox / "全部.xlsx", entries)
    return inbox


# ---- item 1: the rulebook's gaps are nobody's 扣分 ----------------------------------------------

@pytest.fixture(scope="module")
def gap_year(book, tmp_path_factory):
    """甲区 answers everything at its best; 乙区 says 否 to 2-2 and 5-1."""
    folder = tmp_path_factory.mktemp("gaps")
    inbox = filled_year(book, folder, ["甲区", "乙区"], {"2-2": {"乙区": "否"}, "5-1": {"乙区": "否"}})
    done = run_cli("collect", inbox, "-o", folder / "r.xlsx", "--notices", folder / "通报")
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def notice_paragraphs(folder: Path, district: str) -> list[str]:
    from docx import Document
    document = Document(next((folder / "通报").glob(f"*{district}.docx")))
    return [p.text for p in document.paragraphs]


def section(paragraphs: list[str], heading: str) -> list[str]:
    start = next(n for n, p in enumerate(paragraphs) if p.endswith(f"、{heading}"))
    end = next(n for n, p in enumerate(paragraphs) if n > start and ("、" in p[:2] or p.startswith("附表")))
    return paragraphs[start + 1:end]


def neutral(number: int) -> str:
    points, most = GAPS[number]
    return (f"目标{number}分值{points}分，评分细则各项合计最多{most}分，各区在本目标最多可得{most}分；"
            f"未达分值的{points - most}分不是扣分。")


def test_top_district_notice_lists_no_gap_as_loss(gap_year):
    paragraphs = notice_paragraphs(gap_year, "甲区")
    headings = [p for p in paragraphs if p[:2] in ("一、", "二、", "三、", "四、")]
    assert headings == ["一、考核结果", "二、扣分情况", "三、评分说明", "四、有关要求"]
    assert section(paragraphs, "扣分情况") == ["各项目标均得到评分细则所能给的最高分，没有扣分。"]
    assert section(paragraphs, "评分说明") == [neutral(2), neutral(5)]
    assert not [p for p in paragraphs if "扣分" in p and ("目标2“" in p or "目标5“" in p)]
    assert "请对照扣分原因认真整改" not in "".join(section(paragraphs, "有关要求"))


def test_a_real_loss_is_counted_against_what_could_be_earned(gap_year):
    paragraphs = notice_paragraphs(gap_year, "乙区")
    lost = section(paragraphs, "扣分情况")
    assert len(lost) == 2
    assert lost[0].startswith("1. 目标2“") and "（分值6分，最多可得5分，得3分）：" in lost[0]
    assert "配合完成目标检查、考核：否，未得2分" in lost[0]
    assert lost[1].startswith("2. 目标5“") and "（分值8分，最多可得7分，得0分）：" in lost[1]
    assert section(paragraphs, "评分说明") == [neutral(2), neutral(5)]
    assert section(paragraphs, "有关要求")[0].startswith("请对照扣分原因认真整改。")


def test_scorecard_explains_the_gap_once_where_the_rules_are(gap_year, book):
    workbook = openpyxl.load_workbook(gap_year / "r.xlsx")
    notes = [[c.value for c in row] for row in workbook["评分说明"].iter_rows(min_row=2)]
    generated = [row for row in notes if row[2] and "不是扣分" in row[2]]
    assert generated == [["2 环保目标责任制考核", 2, neutral(2)], ["5 生态环境建设", 5, neutral(5)]]
    ws = workbook["甲区"]
    rows = {ws.cell(r, 2).value: [c.value for c in ws[r]] for r in range(5, ws.max_row + 1)
            if isinstance(ws.cell(r, 2).value, int)}
    assert rows[2][3:9] == [6, "争取政府分解目标任务：是\n配合完成目标检查、考核：是\n争取政府奖励完成目标单位：是", 5,
                            "争取政府分解目标任务：是，得2分；配合完成目标检查、考核：是，得2分；争取政府奖励完成目标单位：是，得1分",
                            "综合处", "正常"]
    assert rows[5][3:9] == [8, "完成饮食业油烟治理计划任务：是", 7, "完成饮食业油烟治理计划任务：是，得7分", "生态处", "正常"]
    texts = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [t for t in texts if re.search(r"扣[0-9]|未得", t)]  # the best district is told of no loss at all
