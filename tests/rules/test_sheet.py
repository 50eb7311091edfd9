"""The rulebook as a workbook: exact round trip, edits in Excel, errors that name sheet, row, column."""
import io
import re
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from assess_xl.xlsx.parse import parse_workbook

from assess_xl.rules import load as rulebook

from assess_xl.rules import sheet as rulesheet
from assess_xl.cli import main
from helpers import assess_xl


@pytest.fixture(scope="module")
def exported():
    return rulesheet.export(rulebook.load_raw())


def test_round_trip_keeps_the_fingerprint(exported, tmp_path):
    back = rulesheet.import_sheets(parse_workbook(exported), "细则.xlsx")
    assert rulebook.fingerprint_of(back) == rulebook.load().fingerprint == "e025aa8e7c210827"
    (tmp_path / "细则.xlsx").write_bytes(exported)
    book = rulebook.load(tmp_path / "细则.xlsx")
    assert book.fingerprint == rulebook.load().fingerprint and len(book.indicators) == 87


def edit(exported, change) -> bytes:
    workbook = openpyxl.load_workbook(io.BytesIO(exported))
    change(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


PARAMETER_HEADERS = ["分值", "得分条件", "分母", "不得分线", "门槛", "对比指标", "每满", "起点", "封顶", "标准线", "每档",
                     "否决条件"]
SCORING_HEADERS = ["指标编号", "计分方式", *PARAMETER_HEADERS, "另一种解读", "解读说明"]
KIND_NAMES = "是否得分,每项加减分,按比例,达标得分,不足按档扣分,按选项,否决,部门评分,部门扣分"
TYPE_NAMES = "是/否,数量,比率,金额,得分,扣分,选项"
LATIN = re.compile("[A-Za-z]{2,}")  # an English word (codes such as 38-2a hold one letter)


@pytest.fixture(scope="module")
def cli_exported(tmp_path_factory):
    """The embedded rulebook exported by the real command line."""
    path = tmp_path_factory.mktemp("export") / "2008年细则.xlsx"
    done = assess_xl("rules", "export", rulebook.embedded_rulebook_path(), "-o", path)
    assert done.returncode == 0, done.stderr
    return path


def row_of(sheet, code: str) -> int:
    return next(row[0].row for row in sheet.iter_rows(min_row=3) if row[0].value == code)


def test_scoring_sheet_is_in_chinese_cell_by_cell(cli_exported):
    workbook = openpyxl.load_workbook(cli_exported)
    assert workbook.sheetnames == ["说明", "类别", "目标", "指标", "计分", "计分说明"]
    scoring = workbook["计分"]
    assert [c.value for c in scoring[1]] == SCORING_HEADERS
    notes = [c.value for c in scoring[2]]
    assert len(set(notes)) == len(notes) and not any(LATIN.search(note) for note in notes)  # each its own, Chinese
    assert notes[4].startswith("按比例：指标值达到多少时得满分") and "例：48" in notes[4]
    assert all("例：" in note for note in notes[2:])
    expected = {  # code → {column: value}, as the coordinator sees them
        "16-1": {"B": "按比例", "C": 4, "E": 48},
        "22-1": {"B": "不足按档扣分", "C": -0.1, "L": 0.8, "M": 0.05},
        "38-2b": {"B": "达标得分", "C": 1, "G": 1.1, "H": "38-2a"},
        "38-3": {"B": "每项加减分", "C": 0.1, "J": 1},
        "38-1": {"B": "每项加减分", "C": 0.2, "I": 10},
        "10-2": {"B": "否决", "N": "否"},
        "24-1": {"B": "按比例", "C": 1, "F": 0.6},
        "14-1": {"B": "部门评分"},
        "15-1": {"B": "部门扣分"},
        "3-1": {"B": "是否得分", "C": 4},
        "21-1": {"B": "按选项", "C": "已落实且完善=0\n预案不完善=-0.1\n组织未落实或预案未制定=-0.2"},
    }
    for code, cells in expected.items():
        row = row_of(scoring, code)
        for column in "BCDEFGHIJKLMN":
            assert scoring[f"{column}{row}"].value == cells.get(column), (code, column)
    assert {row[1].value for row in scoring.iter_rows(min_row=3)} == set(KIND_NAMES.split(","))
    indicators = workbook["指标"]
    assert indicators["E1"].value == "类型" and indicators[f"E{row_of(indicators, '22-1')}"].value == "比率"
    assert {row[4].value for row in indicators.iter_rows(min_row=3)} == set(TYPE_NAMES.split(","))
    for name in ("类别", "目标", "指标", "计分说明"):
        assert not any(LATIN.search(str(c.value or "")) for c in workbook[name][1]), name


def test_dropdowns_and_prompts_use_the_chinese_names(cli_exported):
    workbook = openpyxl.load_workbook(cli_exported)
    scoring = {str(v.sqref): v for v in workbook["计分"].data_validations.dataValidation}
    assert scoring["B3:B2001"].type == "list" and scoring["B3:B2001"].formula1 == f'"{KIND_NAMES}"'
    assert scoring["D3:D2001"].formula1 == scoring["N3:N2001"].formula1 == '"是,否"'
    for column, title in zip("CDEFGHIJKLMNOP", SCORING_HEADERS[2:]):
        prompt = scoring[f"{column}3:{column}2001"]
        assert prompt.showInputMessage and prompt.promptTitle == title and "例：" in prompt.prompt
    assert scoring["E3:E2001"].prompt == "按比例：指标值达到多少时得满分；不填即1（比率类即100%）。\n例：48（每月4篇×12个月）"
    indicators = {str(v.sqref): v.formula1 for v in workbook["指标"].data_validations.dataValidation}
    assert indicators["E3:E2001"] == f'"{TYPE_NAMES}"' and "办公室" in indicators["C3:C2001"]


def test_help_sheet_explains_every_kind_parameter_and_type(cli_exported):
    rows = list(openpyxl.load_workbook(cli_exported)["计分说明"].iter_rows(values_only=True))
    assert rows[0] == ("项目", "名称", "说明", "例", "适用于")
    by_name = {(row[0], row[1]): row for row in rows[1:]}
    assert [name for kind, name in by_name if kind == "计分方式"] == KIND_NAMES.split(",")
    assert [name for kind, name in by_name if kind == "参数"] == PARAMETER_HEADERS
    assert [name for kind, name in by_name if kind == "指标类型"] == TYPE_NAMES.split(",")
    ratio = by_name[("计分方式", "按比例")]
    assert ratio[2].startswith("比率、数量、金额类指标：得分 = 分值 × 指标值 ÷ 分母") and ratio[3].startswith("目标16：")
    assert ratio[4] == "指标类型：数量、比率、金额；参数：分值（必填）、分母、不得分线"
    assert by_name[("参数", "起点")][4] == "计分方式：每项加减分" and by_name[("参数", "起点")][3] == "1（第一项不计分）"
    assert by_name[("指标类型", "选项")][4] == "计分方式：按选项"
    assert all(row[2] and row[3] and not LATIN.search(row[1]) for row in rows[1:])


def test_cli_round_trip_keeps_the_fingerprint_and_the_english_yaml(cli_exported, tmp_path):
    checked = assess_xl("rules", "check", cli_exported)
    assert checked.returncode == 0 and "指纹 e025aa8e7c210827" in checked.stdout
    imported = assess_xl("rules", "import", cli_exported, "-o", tmp_path / "back.yaml")
    assert imported.returncode == 0 and "指纹 e025aa8e7c210827" in imported.stdout
    text = (tmp_path / "back.yaml").read_text(encoding="utf-8")
    assert "kind: ratio" in text and "type: percent" in text and "kind: 按比例" not in text and "type: 比率" not in text
    assert rulebook.load(tmp_path / "back.yaml").fingerprint == "e025aa8e7c210827"


def test_older_workbook_with_english_names_still_loads(tmp_path):
    """A workbook exported before the names were Chinese: English parameter headers, kinds and types."""
    older = Path(__file__).parents[1] / "data" / "rulebook-2007-english-headers.xlsx"
    workbook = openpyxl.load_workbook(older)
    assert [c.value for c in workbook["计分"][1]][2:5] == ["at", "below", "block"]
    assert workbook["计分"]["B3"].value == "award" and workbook["指标"]["E3"].value == "bool"
    checked = assess_xl("rules", "check", older)
    assert checked.returncode == 0 and "指纹 e025aa8e7c210827" in checked.stdout
    (tmp_path / "mixed.xlsx").write_bytes(edit(older.read_bytes(), lambda wb: wb["计分"].__setitem__("B3", "是否得分")))
    assert "指纹 e025aa8e7c210827" in assess_xl("rules", "check", tmp_path / "mixed.xlsx").stdout


def test_unknown_chinese_names_say_sheet_cell_and_what_to_type(cli_exported, tmp_path):
    def mistype(workbook):
        scoring, indicators = workbook["计分"], workbook["指标"]
        scoring[f"B{row_of(scoring, '16-1')}"] = "按比列"
        indicators[f"E{row_of(indicators, '22-1')}"] = "百分比"
        scoring["E1"] = "分毋"
    (tmp_path / "错.xlsx").write_bytes(edit(cli_exported.read_bytes(), mistype))
    workbook = openpyxl.load_workbook(cli_exported)
    ratio_row, type_row = row_of(workbook["计分"], "16-1"), row_of(workbook["指标"], "22-1")
    done = assess_xl("rules", "check", tmp_path / "错.xlsx")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (f"错.xlsx，工作表“计分”单元格B{ratio_row}（计分方式）：“按比列”不是可用的计分方式。请从下拉列表选择，"
            f"可用的计分方式：{KIND_NAMES.replace(',', '、')}。") in done.stderr
    assert (f"错.xlsx，工作表“指标”单元格E{type_row}（类型）：“百分比”不是可用的类型。请从下拉列表选择，"
            f"可用的类型：{TYPE_NAMES.replace(',', '、')}。") in done.stderr
    assert (f"错.xlsx，工作表“计分”单元格E1（表头）：表头“分毋”不是计分参数。计分表的表头只能是："
            f"{'、'.join(SCORING_HEADERS)}。") in done.stderr


def test_parameters_a_kind_lacks_or_does_not_take_name_their_cells(cli_exported, tmp_path):
    def mistake(workbook):
        scoring = workbook["计分"]
        scoring[f"C{row_of(scoring, '6-1')}"] = None  # 每项加减分 without 分值
        scoring[f"E{row_of(scoring, '1-1')}"] = 2  # 分母 on a 是否得分
    (tmp_path / "错.xlsx").write_bytes(edit(cli_exported.read_bytes(), mistake))
    scoring = openpyxl.load_workbook(cli_exported)["计分"]
    done = assess_xl("rules", "import", tmp_path / "错.xlsx", "-o", tmp_path / "x.yaml")
    assert done.returncode == 2 and not (tmp_path / "x.yaml").exists()
    assert (f"工作表“计分”单元格C{row_of(scoring, '6-1')}（分值）：计分方式“每项加减分”（per_unit）缺少参数“分值”（points）。"
            in done.stderr)
    assert (f"工作表“计分”单元格E{row_of(scoring, '1-1')}（分母）：计分方式“是否得分”（award）没有参数“分母”（of）；"
            f"它的参数是：分值、得分条件。") in done.stderr


def test_cli_init_export_import(tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["rules", "init", "-o", str(tmp_path / "2008.xlsx")]).exit_code == 0
    assert runner.invoke(main, ["rules", "init", "-o", str(tmp_path / "2008.yaml")]).exit_code == 0
    assert (tmp_path / "2008.yaml").read_bytes() == rulebook.embedded_rulebook_path().read_bytes()
    imported = runner.invoke(main, ["rules", "import", str(tmp_path / "2008.xlsx"), "-o", str(tmp_path / "back.yaml")])
    assert imported.exit_code == 0 and "e025aa8e7c210827" in imported.output
    assert rulebook.load(tmp_path / "back.yaml").fingerprint == "e025aa8e7c210827"
    assert runner.invoke(main, ["rules", "export", str(tmp_path / "back.yaml"), "-o", str(tmp_path / "again")]).exit_code == 0
    assert rulebook.load(tmp_path / "again.xlsx").fingerprint == "e025aa8e7c210827"
    forms = runner.invoke(main, ["forms", "--districts", "甲区,乙区", "--rules", str(tmp_path / "2008.xlsx"),
                                 "-o", str(tmp_path / "f")])
    assert forms.exit_code == 0
    assert runner.invoke(main, ["rules", "init", "-o", str(tmp_path / "x.txt")]).exit_code == 2
    again = runner.invoke(main, ["rules", "init", "-o", str(tmp_path / "2008.xlsx")])
    assert again.exit_code == 2 and "已存在" in again.output
    assert runner.invoke(main, ["rules", "init", "-o", str(tmp_path / "2008.xlsx"), "--force"]).exit_code == 0


# ---- alternative readings (`alternatives:`) as 计分 rows ------------------------------------------

ALTERNATIVES = [
    {"name": "目标2按分值6分折算", "target": 2, "note": "细则各项合计5分而分值为6分",
     "scoring": {"2-1": [{"kind": "award", "points": 2.4}], "2-2": [{"kind": "award", "points": 2.4}],
                 "2-3": [{"kind": "award", "points": 1.2}]}},
    {"name": "目标22不设否决", "target": 22,
     "scoring": {"22-1": [{"kind": "shortfall_steps", "points": -0.1, "below": 0.8, "step": 0.05}], "22-2": []}},
]


@pytest.fixture(scope="module")
def with_alternatives(tmp_path_factory):
    """The embedded rulebook with two alternative readings, as YAML and exported by the real command line."""
    folder = tmp_path_factory.mktemp("alternatives")
    raw = {**rulebook.load_raw(), "alternatives": ALTERNATIVES}
    (folder / "细则.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    done = assess_xl("rules", "export", folder / "细则.yaml", "-o", folder / "细则.xlsx")
    assert done.returncode == 0, done.stderr
    return folder


def test_alternatives_are_scoring_rows_cell_by_cell(with_alternatives):
    scoring = openpyxl.load_workbook(with_alternatives / "细则.xlsx")["计分"]
    assert [c.value for c in scoring[1]][14:] == ["另一种解读", "解读说明"]
    rows = [[c.value for c in row] for row in scoring.iter_rows(min_row=3)]
    own, readings = rows[:-5], rows[-5:]
    assert len(own) == sum(len(t.components) for t in rulebook.load().targets) and not any(r[14] or r[15] for r in own)
    blank = [None] * 12
    name2, name22 = "目标2按分值6分折算", "目标22不设否决"
    assert readings == [
        ["2-1", "是否得分", 2.4, *blank[:11], name2, "细则各项合计5分而分值为6分"],
        ["2-2", "是否得分", 2.4, *blank[:11], name2, None],
        ["2-3", "是否得分", 1.2, *blank[:11], name2, None],
        ["22-1", "不足按档扣分", -0.1, *blank[:8], 0.8, 0.05, None, name22, None],
        ["22-2", None, *blank, name22, None],
    ]
    prompts = {str(v.sqref): v for v in scoring.data_validations.dataValidation}
    assert prompts["O3:O2001"].promptTitle == "另一种解读" and "例：目标2按分值6分折算" in prompts["O3:O2001"].prompt
    assert prompts["P3:P2001"].promptTitle == "解读说明"


def test_alternatives_round_trip_yaml_workbook_yaml(with_alternatives):
    imported = assess_xl("rules", "import", with_alternatives / "细则.xlsx", "-o", with_alternatives / "回.yaml")
    assert imported.returncode == 0, imported.stderr
    back = yaml.safe_load((with_alternatives / "回.yaml").read_text(encoding="utf-8"))
    assert back["alternatives"] == ALTERNATIVES
    from_yaml, from_book = rulebook.load(with_alternatives / "细则.yaml"), rulebook.load(with_alternatives / "细则.xlsx")
    assert from_book.alternatives == from_yaml.alternatives and len(from_book.alternatives) == 2
    assert from_book.fingerprint == from_yaml.fingerprint == "e025aa8e7c210827"  # alternatives are outside it


def test_alternative_leaving_its_target_unscored_loads_the_same(tmp_path):
    raw = {**rulebook.load_raw(), "alternatives": [{"name": "目标9不计分", "target": 9, "scoring": {}}]}
    back = rulesheet.import_sheets(parse_workbook(rulesheet.export(raw)), "细则.xlsx")
    assert back["alternatives"] == [{"name": "目标9不计分", "target": 9, "scoring": {"9-1": []}}]
    assert rulebook.build(back).alternatives == rulebook.build(raw).alternatives


def test_alternative_rows_typed_in_excel_are_checked_by_cell(with_alternatives, tmp_path):
    def typed(workbook):
        scoring = workbook["计分"]
        scoring.append(["3-1", "是否得分", 3, *[None] * 11, "目标2按分值6分折算"])  # target 3's indicator
        scoring.append(["22-1", "是否得分", 1, *[None] * 11, "目标22不设否决", "另一个说明"])
        scoring.append(["4-1", "是否得分", 1, *[None] * 12, "只有说明"])
        scoring.append(["4-1", None, 1])
    (tmp_path / "错.xlsx").write_bytes(edit((with_alternatives / "细则.xlsx").read_bytes(), typed))
    last = openpyxl.load_workbook(with_alternatives / "细则.xlsx")["计分"].max_row
    done = assess_xl("rules", "check", tmp_path / "错.xlsx")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    first = last - 4  # the first row of 目标2按分值6分折算
    sheet = "错.xlsx，工作表“计分”"
    assert (f"{sheet}单元格A{last + 1}（指标编号）：另一种解读“目标2按分值6分折算”的指标“3-1”属于目标3，而这一解读从"
            f"{sheet}单元格A{first}（指标编号）起是目标2的。") in done.stderr
    assert "目标22不设否决" not in done.stderr  # a note on a later row of a reading without one is its note
    assert f"{sheet}单元格P{last + 3}（解读说明）：写了解读说明，但这一行没有“另一种解读”的名称。" in done.stderr
    assert f"{sheet}单元格B{last + 4}（计分方式）：这一行没有计分方式。" in done.stderr


def test_conflicting_notes_of_one_alternative_name_both_cells(with_alternatives, tmp_path):
    def typed(workbook):
        workbook["计分"].append(["2-3", "是否得分", 0.5, *[None] * 11, "目标2按分值6分折算", "另一个说明"])
    (tmp_path / "错.xlsx").write_bytes(edit((with_alternatives / "细则.xlsx").read_bytes(), typed))
    last = openpyxl.load_workbook(with_alternatives / "细则.xlsx")["计分"].max_row
    done = assess_xl("rules", "import", tmp_path / "错.xlsx", "-o", tmp_path / "x.yaml")
    assert done.returncode == 2 and not (tmp_path / "x.yaml").exists()
    assert (f"工作表“计分”单元格P{last + 1}（解读说明）：另一种解读“目标2按分值6分折算”的解读说明与错.xlsx，工作表“计分”"
            f"单元格P{last - 4}（解读说明）所写的不同。") in done.stderr
