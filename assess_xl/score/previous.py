"""Compared with last year: a scorecard this tool wrote carries, in its hidden 结果信息 sheet, each
district's totals, rank, category scores and reported values as JSON, so that a later version reads
them whatever the layout. This year's 汇总 gains 上年总分, 上年排名, 变化; district sheets show last
year's category scores; values that changed implausibly are listed as 提示 for the coordinator."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pandas as pd

from assess_xl import problems as P
from assess_xl.xlsx.layout import RESULT_META_SHEET, TOOL
from assess_xl.problems import Problem
from assess_xl.xlsx.parse import SheetData
from assess_xl.rules.model import Rulebook
from assess_xl.score.scoring import Scores
from assess_xl.problems import Code

DISTRICT_KEY = "district:"
INDICATORS_KEY = "indicators"  # code → type of every indicator the year asked for, filled or not
TOTAL_KEYS = ("基本分", "加分", "总分", "排名", "缺报项数")
GROWTH, FROM_ZERO, RATE_POINTS = 5.0, 5.0, 0.5  # a count ×5 or 0 → ≥5, a rate moved by more than 50 points


class PreviousError(P.AssessError):
    """The file is not a scorecard this tool wrote, or holds nothing to compare: `code` is the catalogue's."""

    def __init__(self, code: Code):
        super().__init__(P.make(code))
        self.code = code


@dataclass
class Previous:
    year: str
    fingerprint: str
    totals: dict[str, dict[str, float]] = field(default_factory=dict)  # district → {基本分, 加分, 总分, 排名}
    categories: dict[str, dict[str, float]] = field(default_factory=dict)  # district → {category number: score}
    values: dict[str, dict[str, float]] = field(default_factory=dict)  # district → {code: value}
    indicators: dict[str, str] = field(default_factory=dict)  # code → type (empty for scorecards before 2008)


def metadata_rows(book: Rulebook, scores: Scores, values: pd.DataFrame) -> dict[str, str]:
    """What a later run needs of this result, one JSON row per district (a cell holds 32,767 characters)."""
    rows = {INDICATORS_KEY: json.dumps({code: i.type for code, i in book.indicators.items()}, ensure_ascii=False)}
    districts = scores.districts
    keys, numbers, codes = TOTAL_KEYS, [str(n) for n in scores.categories.columns], list(values.columns)
    totals = zip(*(scores.totals[key].tolist() for key in keys))  # whole columns: .loc per cell is slow
    categories = scores.categories.loc[districts].to_numpy(dtype=float).tolist()
    reported = values.loc[districts].to_numpy(dtype=float).tolist()
    for district, total, category, row in zip(districts, totals, categories, reported):
        data = {"totals": {key: _number(v) for key, v in zip(keys, total)},
                "categories": {n: _number(v) for n, v in zip(numbers, category)},
                "values": {code: _number(v) for code, v in zip(codes, row) if not math.isnan(v)}}
        rows[DISTRICT_KEY + district] = json.dumps(data, ensure_ascii=False)
    return rows


def _number(value: float) -> float | int:
    """2.0 as 2, so the JSON row reads as the scorecard shows it."""
    number = float(value)
    return int(number) if number.is_integer() else number


def read(sheets: dict[str, SheetData]) -> Previous:
    """Last year's result from the parsed sheets of its scorecard."""
    sheet = sheets.get(RESULT_META_SHEET)
    fields = {str(row[0]): row[1] for row in (sheet.rows if sheet else []) if len(row) >= 2 and isinstance(row[0], str)}
    if fields.get("tool") != TOOL or fields.get("kind") != "scorecard":
        raise PreviousError(Code.PREVIOUS_NOT_SCORECARD)
    result = Previous(str(fields.get("year", "")), str(fields.get("fingerprint", "")),
                      indicators=_types(fields.get(INDICATORS_KEY)))
    for key, text in fields.items():
        if not key.startswith(DISTRICT_KEY):
            continue
        try:
            data = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            continue
        district = key[len(DISTRICT_KEY):]
        result.totals[district] = _numbers(data.get("totals"))
        result.categories[district] = _numbers(data.get("categories"))
        result.values[district] = _numbers(data.get("values"))
    if not result.totals:
        raise PreviousError(Code.PREVIOUS_NO_DATA)
    return result


def _types(text: object) -> dict[str, str]:
    try:
        data = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _numbers(data: object) -> dict[str, float]:
    if not isinstance(data, dict):
        return {}
    numbers = {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if not all(math.isfinite(v) for v in numbers.values()):  # JSON allows Infinity and NaN; a scorecard never has them
        raise PreviousError(Code.PREVIOUS_INVALID)
    return numbers


@dataclass
class Comparison:
    summary: pd.DataFrame  # district → 上年总分, 上年排名, 变化 (NaN where the district is new)
    categories: dict[str, dict[int, float]]  # district → {category number: last year's score}
    problems: list[Problem]


def compare(book: Rulebook, scores: Scores, values: pd.DataFrame, winners: pd.DataFrame, previous: Previous,
            file_name: str) -> Comparison:
    """`winners`: where this year's values were typed (file, sheet, cell), to name them in the notes."""
    rows = {}
    for district in scores.districts:
        last = previous.totals.get(district, {})
        total = last.get("总分", math.nan)
        rows[district] = {"上年总分": total, "上年排名": last.get("排名", math.nan),
                          "变化": round(float(scores.totals.loc[district, "总分"]) - total, 2)}
    summary = pd.DataFrame.from_dict(rows, orient="index", columns=["上年总分", "上年排名", "变化"])
    categories = {d: {int(n): v for n, v in previous.categories.get(d, {}).items()} for d in scores.districts}
    problems = _implausible(book, values, winners, previous, file_name) + _not_comparable(book, previous, file_name)
    return Comparison(summary, categories, problems)


def _implausible(book: Rulebook, values: pd.DataFrame, winners: pd.DataFrame, previous: Previous,
                 file_name: str) -> list[Problem]:
    """Each note names this year's return, sheet and cell where the value was typed."""
    typed = {(row.district, row.code): (row.file, row.sheet, row.cell)
             for row in winners[["district", "code", "file", "sheet", "cell"]].itertuples(index=False)}
    out = []
    for district in values.index:
        last_values = previous.values.get(district, {})
        for code, now in values.loc[district].items():
            last = last_values.get(code)
            if last is None or math.isnan(now):
                continue
            reason = _why_implausible(book.indicators[code].type, last, float(now))
            if reason:
                indicator = book.indicators[code]
                where, sheet, cell = typed.get((district, code), ("", "", ""))
                out.append(P.make(Code.IMPLAUSIBLE_CHANGE, district=district, code=code, raw=indicator.show(now),
                                  file=where, sheet=sheet, cell=cell, previous_file=file_name,
                                  last=indicator.show(last), now=indicator.show(now), reason=reason))
    return out


def _why_implausible(kind: str, last: float, now: float) -> str:
    if kind == "count" and last > 0 and now > GROWTH * last:
        return f"超过上年的{GROWTH:g}倍"
    if kind == "count" and last == 0 and now >= FROM_ZERO:
        return "上年为0"
    if kind == "percent" and abs(now - last) > RATE_POINTS:
        return "变化超过50个百分点"
    if kind == "bool" and last >= 0.5 > now:
        return "上年为“是”"
    return ""


def _not_comparable(book: Rulebook, previous: Previous, file_name: str) -> list[Problem]:
    """Indicators last year's rules did not ask for, or asked for as another type. A code blank in both years
    is not a difference of rules and is not listed. A scorecard without its list of indicators (written before
    2008) only tells which codes held values: those without are listed as having no data last year."""
    if previous.fingerprint == book.fingerprint:
        return []
    if previous.indicators:
        differ = [f"{code}（{'上年没有此指标' if code not in previous.indicators else '类型不同'}）"
                  for code, indicator in book.indicators.items() if previous.indicators.get(code) != indicator.type]
        return [P.make(Code.PREVIOUS_RULES_CHANGED, file=file_name, year=previous.year, codes="、".join(differ))] \
            if differ else []
    known = {code for values in previous.values.values() for code in values}
    missing = [code for code in book.indicators if code not in known]
    return [P.make(Code.PREVIOUS_NO_VALUES, file=file_name, year=previous.year, codes="、".join(missing))] \
        if missing else []
