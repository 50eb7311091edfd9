import copy

import pytest
import yaml

from assess_xl.rules import load as rulebook
from assess_xl.rules.model import RulebookError, summary


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(rulebook.embedded_rulebook_path().read_text(encoding="utf-8"))


def test_2007_rulebook_counts(book):
    assert [c.number for c in book.categories] == list(range(1, 19))
    assert [t.number for t in book.targets] == list(range(1, 39))
    assert len(book.indicators) == 87
    assert book.nominal_total == 110
    assert len(book.departments) == 14


def test_2007_matches_spec_catalogue(book):
    import csv
    from pathlib import Path
    catalogue = Path(__file__).parents[1] / "data" / "indicators-2007.csv"
    rows = list(csv.DictReader(catalogue.open(encoding="utf-8")))
    assert [r["code"] for r in rows] == list(book.indicators)
    for row in rows:
        ind = book.indicators[row["code"]]
        assert (ind.department, ind.label, ind.type, ind.target) == (
            row["department"], row["label"], row["type"], int(row["item"]))
        if row["options"]:
            assert ind.options == tuple(row["options"].split("|"))


def test_seed_text_verbatim(book):
    assert book.target(6).rule.startswith("违反国家和省有关产业政策及苏政办发〔2005〕93号")
    assert book.target(38).text == "工作创省、市一流水平，并取得明显成效。"
    assert all(t.text and t.rule for t in book.targets)


def test_2007_warnings(book):
    text = "\n".join(warning.message for warning in book.warnings)
    assert "目标2分值6分，但计分规则最多只能得5分" in text
    assert "目标5分值8分，但计分规则最多只能得7分" in text
    assert "目标30原文标注(3)分，但各部分合计4分" in text
    assert len(book.warnings) == 3


def test_category_maxima(book):
    assert book.category(7).points == 6 and book.category(8).points == 4
    assert book.category(9).points == 3 and book.category(10).points == 3
    assert [book.target(n).max for n in range(17, 26)] == [2, 2, 2, 2, 2, 1, 1, 1, 1]
    assert book.category(18).bonus


def test_notes_record_decisions(book):
    for number in (2, 5, 6, 17, 22, 30, 38):
        assert book.target(number).note, number


def test_fingerprint_stable_and_content_sensitive(raw):
    a = rulebook.build(copy.deepcopy(raw))
    b = rulebook.build(copy.deepcopy(raw))
    changed = copy.deepcopy(raw)
    changed["targets"][0]["indicators"][0]["scoring"][0]["points"] = 2
    assert a.fingerprint == b.fingerprint != rulebook.build(changed).fingerprint


def _errors(raw):
    with pytest.raises(RulebookError) as caught:
        rulebook.build(raw, "测试.yaml")
    return "\n".join(caught.value.messages)


def _indicator(raw, code):
    for target in raw["targets"]:
        for ind in target["indicators"]:
            if ind["code"] == code:
                return target, ind
    raise KeyError(code)


@pytest.mark.parametrize("code, edit, expected", [
    ("1-1", lambda ind: ind["scoring"][0].update(kind="bonus_magic"), "测试.yaml：目标1，指标1-1：未知的计分方式“bonus_magic”"),
    ("1-2", lambda ind: ind.update(code="1-1"), "指标编号“1-1”重复使用"),
    ("38-2b", lambda ind: ind["scoring"][0].update(relative_to="38-9"), "引用了不存在的指标“38-9”"),
    ("1-2", lambda ind: ind.update(scoring=[]), "指标1-2没有任何计分方式使用"),
], ids=["unknown_kind", "duplicate_code", "missing_indicator_reference", "unused_indicator"])
def test_a_bad_indicator_is_named(raw, code, edit, expected):
    bad = copy.deepcopy(raw)
    edit(_indicator(bad, code)[1])
    assert expected in _errors(bad)


@pytest.mark.parametrize("code,change,message", [
    ("1-1", {"max": 3}, "是/否类指标不能设置上下限"),
    ("21-1", {"options": ["只有一个"]}, "至少两个选项"),
    ("8-1", {"max": 100}, "比率的上下限应在0到1之间"),
    ("6-1", {"max": 2.5}, "数量类指标的上下限须为整数"),
    ("14-1", {"min": 3, "max": 1}, "下限3大于上限1"),
    ("6-1", {"options": ["是", "否"]}, "只有选项类（choice）指标可以有 options"),
])
def test_bounds_contradict_type(raw, code, change, message):
    bad = copy.deepcopy(raw)
    _indicator(bad, code)[1].update(change)
    assert message in _errors(bad)


def test_kind_not_for_type(raw):
    bad = copy.deepcopy(raw)
    _indicator(bad, "6-1")[1]["scoring"] = [{"kind": "award", "points": 1}]
    assert "计分方式“是否得分”（award）不适用于数量类指标（适用于：是/否）" in _errors(bad)


def test_target_in_no_category(raw):
    bad = copy.deepcopy(raw)
    bad["targets"][0]["category"] = 99
    assert "目标1：所属类别99不存在" in _errors(bad)


def test_all_errors_reported_together(raw):
    bad = copy.deepcopy(raw)
    bad["targets"][0]["category"] = 99
    _indicator(bad, "6-1")[1]["scoring"][0]["kind"] = "nope"
    with pytest.raises(RulebookError) as caught:
        rulebook.build(bad, "测试.yaml")
    assert len(caught.value.messages) >= 3  # category, unknown kind, and 6-1 now unused


def test_category_sum_warning(raw):
    changed = copy.deepcopy(raw)
    changed["categories"][0]["points"] = 3
    book = rulebook.build(changed, "测试.yaml")
    assert "测试.yaml：类别1“落实环保大会”分值3分，但其目标满分合计2分。" in [w.message for w in book.warnings]
    assert [w.kind for w in book.warnings].count("rule_category_sum") == 1


def test_load_reports_yaml_error(tmp_path):
    path = tmp_path / "坏.yaml"
    path.write_text("year: [2007\n", encoding="utf-8")
    with pytest.raises(RulebookError) as caught:
        rulebook.load(path)
    assert "坏.yaml" in caught.value.messages[0] and "YAML格式错误" in caught.value.messages[0]


def test_load_missing_file(tmp_path):
    with pytest.raises(RulebookError, match="找不到评分细则文件"):
        rulebook.load(tmp_path / "none.yaml")


def test_summary(book):
    figures = summary(book)
    assert figures["nominal"] == 110 and figures["reachable"] == 108
    assert figures["per_department"]["环监局"] == 24
    assert sum(figures["per_department"].values()) == 87


@pytest.mark.parametrize("code,scoring,message", [
    ("3-1", [{"kind": "award", "points": 4, "of": 2}],
     "计分方式“是否得分”（award）没有参数“分母”（of）；它的参数是：“分值”（points）、“得分条件”（when）。"),
    ("16-1", [{"kind": "ratio", "of": 48}], "计分方式“按比例”（ratio）缺少参数“分值”（points）。"),
    ("16-1", [{"kind": "ratio", "points": 4, "of": 0}], "参数“分母”（of）须大于0。"),
    ("16-1", [{"kind": "ratio", "points": "四", "of": 48}], "计分方式“按比例”（ratio）的参数应为数字（可写分数，如 5/3）：分值=四，分母=48。"),
    ("10-2", [{"kind": "gate", "zero_when": "也许"}], "参数“否决条件”（zero_when）应为“是”或“否”。"),
])
def test_yaml_component_errors_use_chinese_and_english_names(raw, tmp_path, code, scoring, message):
    """rules check of a YAML rulebook: the coordinator reads the Chinese name, the YAML editor the key beside it."""
    from helpers import assess_xl
    bad = copy.deepcopy(raw)
    _indicator(bad, code)[1]["scoring"] = scoring
    (tmp_path / "2008.yaml").write_text(yaml.safe_dump(bad, allow_unicode=True, sort_keys=False), encoding="utf-8")
    done = assess_xl("rules", "check", tmp_path / "2008.yaml")
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
