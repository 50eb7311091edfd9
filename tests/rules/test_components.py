import math

import numpy as np
import pytest

from assess_xl.rules.components import KINDS, Indicator, PerUnit, Threshold, fmt_number, fmt_percent, parse_points


@pytest.mark.parametrize("x,text", [(2, "2"), (0.1, "0.1"), (5 / 3, "1.67"), (2.675, "2.68"), (0, "0"), (-0.2, "-0.2")])
def test_fmt_number(x, text):
    assert fmt_number(x) == text


def test_fmt_percent():
    assert fmt_percent(0.75) == "75%" and fmt_percent(0.749) == "74.9%"


def test_parse_points():
    assert parse_points("5/3") == pytest.approx(5 / 3) and parse_points(2) == 2.0
    with pytest.raises(ValueError):
        parse_points("abc")


def test_indicator_show():
    rate = Indicator("x", 1, "d", "比率", "percent")
    count = Indicator("y", 1, "d", "数量", "count", "例")
    choice = Indicator("z", 1, "d", "选项", "choice", options=("甲", "乙"))
    assert rate.show(0.85) == "85%" and count.show(2.0) == "2例" and choice.show(1.0) == "乙"
    assert Indicator("b", 1, "d", "b", "bool").show(0.0) == "否"
    assert count.show(math.nan) == "（空）"


def test_per_unit_block_and_free():
    x = np.array([0, 9.99, 10, 25, 39.999])
    assert list(KINDS["per_unit"].score(PerUnit(points=0.2, block=10), x, None)) == pytest.approx([0, 0, 0.2, 0.4, 0.6])
    eia = np.array([0, 1, 2, 5])
    assert list(KINDS["per_unit"].score(PerUnit(points=0.1, free=1), eia, None)) == pytest.approx([0, 0, 0.1, 0.4])


def test_per_unit_limit():
    x = np.array([1, 10])
    assert list(KINDS["per_unit"].score(PerUnit(points=-0.5, limit=2), x, None)) == [-0.5, -2]


def test_threshold_relative_needs_positive_plan():
    x, plan = np.array([110.0, 50.0, 10.0]), np.array([100.0, 0.0, 10.0])
    assert list(KINDS["threshold"].score(Threshold(at=1.1, points=1), x, plan)) == [1, 0, 0]


def test_every_kind_parameter_and_type_has_its_chinese_term():
    """One vocabulary per kind of word, covering exactly what the code knows (ruleterms)."""
    from assess_xl.rules import terms as ruleterms
    from assess_xl.rules.model import INDICATOR_TYPES
    assert set(ruleterms.KINDS.terms) == set(KINDS)
    assert set(ruleterms.PARAMETERS.terms) == {p for kind in KINDS.values() for p in kind.required | kind.optional}
    assert set(ruleterms.TYPES.terms) == set(INDICATOR_TYPES)
    for vocabulary in (ruleterms.KINDS, ruleterms.PARAMETERS, ruleterms.TYPES):
        for key, term in vocabulary.terms.items():
            assert not term.name.isascii() and term.meaning and term.example, key
            assert vocabulary.key(term.name) == vocabulary.key(key) == key and vocabulary.name(key) == term.name


def test_each_kind_owns_its_parameters():
    """Required and optional parameters come from the kind's dataclass, nothing else."""
    assert KINDS["per_unit"].required == {"points"} and KINDS["per_unit"].optional == {"block", "free", "limit"}
    assert KINDS["threshold"].required == {"at", "points"} and KINDS["threshold"].optional == {"relative_to"}
    assert KINDS["entered_score"].required == frozenset() and KINDS["gate"].required == {"zero_when"}
