"""One cell: what a person typed, understood by its indicator's type and bounds. Pure functions."""
from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from assess_xl.rules.components import Indicator, fmt_number, fmt_percent
from assess_xl.xlsx.layout import normalise_text
from assess_xl import problems as P
from assess_xl.problems import Code

TRUE_WORDS = {"是", "1", "true", "√", "✓", "✔", "y", "yes", "对"}
FALSE_WORDS = {"否", "0", "false", "×", "✗", "✘", "x", "n", "no", "错"}
MAX_TEXT = 1_000
MAX_NUMBER = 1e9
Note = tuple[str, dict[str, Any]]  # (problem code, or an internal marker starting with _, fields)
Parsed = tuple[float, list[Note]]


def is_blank(raw: object) -> bool:
    if raw is None or raw == "":
        return True
    return isinstance(raw, str) and normalise_text(raw) == ""


def parse_value(indicator: Indicator, raw: object) -> Parsed:
    """A raw cell value → (parsed value or NaN, [(problem kind, fields)])."""
    expected = {"expected": indicator.what_to_type()}
    if isinstance(raw, str) and len(raw) > MAX_TEXT:
        return math.nan, [(Code.TEXT_TOO_LONG, {"length": len(raw), **expected})]
    if isinstance(raw, (datetime, date, time, timedelta)):
        return math.nan, [(Code.DATE_IN_NUMBER, expected)]
    if indicator.type == "bool":
        return _parse_bool(raw)
    if indicator.type == "choice":
        text = normalise_text(str(raw)) if not isinstance(raw, float) else fmt_number(raw)
        if text in indicator.options:
            return float(indicator.options.index(text)), []
        return math.nan, [(Code.CHOICE_INVALID, {"options": "、".join(indicator.options)})]
    number, notes = _parse_number(indicator, raw)
    if number is None:
        return math.nan, notes or [(Code.NOT_A_NUMBER, expected)]
    if indicator.type == "percent":
        return _check_percent(indicator, number, raw, notes)
    return _check_bounds(indicator, number, notes)


def _parse_bool(raw: object) -> Parsed:
    if isinstance(raw, bool):
        return float(raw), []
    if isinstance(raw, (int, float)) and raw in (0, 1):
        return float(raw), []
    text = normalise_text(str(raw)).lower()
    if text in TRUE_WORDS:
        return 1.0, []
    if text in FALSE_WORDS:
        return 0.0, []
    return math.nan, [(Code.BOOL_INVALID, {})]


def _parse_number(indicator: Indicator, raw: object) -> tuple[float | None, list[Note]]:
    """Numbers, numbers stored as text (with a note), '85%' for rates, a trailing unit."""
    if isinstance(raw, bool):
        return None, []
    if isinstance(raw, (int, float)):
        return (float(raw), []) if math.isfinite(raw) else (None, [])
    text = normalise_text(str(raw)).replace(",", "")
    is_percent = text.endswith("%")
    for suffix in ("%", indicator.unit, "万元"):
        if suffix and text.endswith(suffix):
            text = text[: -len(suffix)].strip()
    try:
        number = float(text)
    except ValueError:
        return None, []
    if not math.isfinite(number):
        return None, []
    if is_percent:
        if indicator.type != "percent":
            return None, []
        return number / 100, [("_percent_text", {})]
    return number, [(Code.NUMBER_AS_TEXT, {"value": fmt_number(number) if abs(number) < 1e15 else text})]


def _check_percent(indicator: Indicator, number: float, raw: object, notes: list[Note]) -> Parsed:
    notes = [n for n in notes if n[0] != Code.NUMBER_AS_TEXT]
    if any(kind == "_percent_text" for kind, _ in notes):
        notes = []
    elif 1 < number <= 100:
        number, notes = number / 100, [(Code.PERCENT_POINTS, {"value": fmt_percent(number / 100)})]
    low = indicator.min if indicator.min is not None else 0.0
    high = indicator.max if indicator.max is not None else 1.0
    if not (low - 1e-12 <= number <= high + 1e-12):
        return math.nan, [(Code.PERCENT_OUT_OF_RANGE, {})]
    return number, notes


def _check_bounds(indicator: Indicator, number: float, notes: list[Note]) -> Parsed:
    expected = {"expected": indicator.what_to_type()}
    if number < 0:
        return math.nan, [(Code.NEGATIVE, expected)]
    if indicator.type == "count" and abs(number - round(number)) > 1e-9:
        return math.nan, [(Code.NOT_INTEGER, expected)]
    upper = indicator.max if indicator.max is not None else MAX_NUMBER
    if number < (indicator.min or 0) - 1e-12 or number > upper + 1e-12:
        return math.nan, [(Code.OUT_OF_BOUNDS, {"bound": _outside(indicator, number, upper), **expected})]
    return (float(round(number)) if indicator.type == "count" else number), notes


def _outside(indicator: Indicator, number: float, upper: float) -> str:
    """Which bound a number passes, as a coordinator says it: '超过最高分2', '低于下限1'."""
    if number < (indicator.min or 0):
        return f"低于下限{fmt_number(indicator.min or 0)}"
    if indicator.max is None:
        return "过大，不是合理的数值"
    noun = {"score": "超过最高分", "deduction": "超过最多可扣的分数"}.get(indicator.type, "超过上限")
    return f"{noun}{fmt_number(upper)}"


REFUSALS: dict[str, str] = {Code.BOOL_INVALID: "不是是/否", Code.CHOICE_INVALID: "不是可选项", Code.NOT_A_NUMBER: "不是数字",
            Code.NOT_INTEGER: "不是整数", Code.NEGATIVE: "是负数", Code.PERCENT_OUT_OF_RANGE: "不是0%到100%之间的比率",
            Code.DATE_IN_NUMBER: "是日期或时间", Code.TEXT_TOO_LONG: "文字过长"}


def refusal(indicator: Indicator, raw: object) -> str:
    """Why a typed entry was not taken, in a few words for messages that quote it ('超过最高分2', '不是数字');
    '无法识别' only for what was not understood at all."""
    for kind, fields in parse_value(indicator, raw)[1]:
        if kind == Code.OUT_OF_BOUNDS:
            return str(fields["bound"])
        if kind in REFUSALS:
            return REFUSALS[kind]
    return "无法识别"




class Reading(NamedTuple):
    """What one cell's raw value means, independent of where it is."""
    value: float  # NaN when blank or not understood
    raw: str  # the entry as text, for messages and the report
    blank: bool
    valid: bool
    notes: list[tuple[Code, dict[str, Any]]]  # [(problem code, fields)]


def interpret(indicator: Indicator, raw: object) -> Reading:
    if is_blank(raw):
        return Reading(math.nan, "", True, True, [])
    value, notes = parse_value(indicator, raw)
    return Reading(value, raw_text(raw), False, not math.isnan(value),
                   [(P.code_of(kind), fields) for kind, fields in notes if not kind.startswith("_")])


def raw_text(raw: object) -> str:
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e15:
        return str(int(raw))
    return str(raw)
