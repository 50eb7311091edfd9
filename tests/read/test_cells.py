import math
from datetime import date, datetime

import pytest

from assess_xl.read.cells import interpret, parse_value


@pytest.fixture
def ind(book):
    return book.indicators


@pytest.mark.parametrize("raw", ["是", " 是 ", "1", 1, 1.0, True, "TRUE", "true", "√", "Y", "yes", "YES", "\u00a0是\u00a0"])
def test_bool_yes_spellings(ind, raw):
    assert parse_value(ind["1-1"], raw) == (1.0, [])


@pytest.mark.parametrize("raw", ["否", "0", 0, False, "FALSE", "×", "N", "no"])
def test_bool_no_spellings(ind, raw):
    assert parse_value(ind["1-1"], raw) == (0.0, [])


@pytest.mark.parametrize("raw", ["可能", "2", 2, "是的吧"])
def test_bool_invalid(ind, raw):
    value, notes = parse_value(ind["1-1"], raw)
    assert math.isnan(value) and notes[0][0] == "bool_invalid"


@pytest.mark.parametrize("raw,value,kind", [
    (0.85, 0.85, None), ("85%", 0.85, None), (" 85 %", 0.85, None), ("８５％", 0.85, None), (1, 1.0, None),
    (85, 0.85, "percent_points"), ("74.9", 0.749, "percent_points"), (100, 1.0, "percent_points"),
    (0, 0.0, None), (150, math.nan, "percent_out_of_range"), (-0.1, math.nan, "percent_out_of_range"),
    ("八成", math.nan, "not_a_number"),
])
def test_percent(ind, raw, value, kind):
    parsed, notes = parse_value(ind["22-1"], raw)
    assert parsed == pytest.approx(value, nan_ok=True)
    assert [n[0] for n in notes] == ([kind] if kind else [])


@pytest.mark.parametrize("raw,value,kind", [
    (2, 2.0, None), (2.0, 2.0, None), ("2", 2.0, "number_as_text"), ("２", 2.0, "number_as_text"),
    (" 2例", 2.0, "number_as_text"), (2.5, math.nan, "not_integer"), (-1, math.nan, "negative"),
    ("nan", math.nan, "not_a_number"), ("inf", math.nan, "not_a_number"), (float("inf"), math.nan, "not_a_number"),
    (1e20, math.nan, "out_of_bounds"), ("两例", math.nan, "not_a_number"),
    (date(2007, 5, 1), math.nan, "date_in_number"), (datetime(2007, 5, 1, 8), math.nan, "date_in_number"),
    ("2" * 40000, math.nan, "text_too_long"), ("\x07", math.nan, "not_a_number"),
])
def test_count(ind, raw, value, kind):
    parsed, notes = parse_value(ind["6-1"], raw)
    assert parsed == pytest.approx(value, nan_ok=True)
    assert [n[0] for n in notes] == ([kind] if kind else [])


@pytest.mark.parametrize("code,raw,ok", [("14-1", 3, True), ("14-1", 3.01, False), ("14-1", 2.5, True),
                                         ("38-4", 5, False), ("15-1", -0.5, False), ("38-1", "32.5万元", True)])
def test_bounds(ind, code, raw, ok):
    value, _ = parse_value(ind[code], raw)
    assert (not math.isnan(value)) is ok


def test_choice(ind):
    assert parse_value(ind["21-1"], "预案不完善") == (1.0, [])
    assert parse_value(ind["21-1"], " 预案不完善\u3000") == (1.0, [])
    value, notes = parse_value(ind["21-1"], "还行")
    assert math.isnan(value) and notes[0][0] == "choice_invalid"


def test_interpret_is_a_named_record(ind):
    reading = interpret(ind["6-1"], " 2例")
    assert (reading.value, reading.raw, reading.blank, reading.valid) == (2.0, " 2例", False, True)
    assert [n[0] for n in reading.notes] == ["number_as_text"]
    assert interpret(ind["6-1"], "\u3000").blank


@pytest.mark.parametrize("raw,value,kind", [(1, 1.0, None), (1.0, 1.0, None), ("1", 1.0, None),
                                            (1.5, 0.015, "percent_points"), ("100", 1.0, "percent_points")])
def test_percent_one_is_all_and_above_one_is_points(ind, raw, value, kind):
    """Decided (SPEC §4): 0–1 is a fraction (1 = 100 %, as a percentage cell stores it); (1, 100] are
    percentage points, with a warning. The README says the same."""
    parsed, notes = parse_value(ind["22-1"], raw)
    assert parsed == pytest.approx(value)
    assert [n[0] for n in notes if n[0] != "number_as_text"] == ([kind] if kind else [])
