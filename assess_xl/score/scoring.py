"""Applying a rulebook to a table of parsed values, vectorised over all districts.

Input: a float DataFrame indexed by district with one column per indicator code (bool as 1/0,
choice as the option's position, percent as a fraction) and NaN for a blank. Output: `Scores`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assess_xl.rules.components import fmt_number
from assess_xl.rules.model import Rulebook, Target

NORMAL, MISSING = "正常", "缺报"


@dataclass
class Scores:
    targets: pd.DataFrame  # district × target number: score, rounded half-up to 2 decimals
    status: pd.DataFrame  # district × target number: 正常 / 缺报
    raw: pd.DataFrame  # district × target number: base + components before gates and clamps
    gated: pd.DataFrame  # district × target number: True where a gate set the target to 0
    parts: dict[int, list[np.ndarray]]  # target number → each component's points (a gate: whether it closed), per district
    categories: pd.DataFrame  # district × category number
    totals: pd.DataFrame  # district × 基本分, 加分, 总分, 排名, 缺报项数

    @property
    def districts(self) -> list[str]:
        return list(self.totals.index)


def to_cents(x: object) -> np.ndarray:
    """Half-up rounding to 2 decimals as integer cents. The 1e-6 cent of slack keeps 2.675, stored
    in binary as 2.67499999..., rounding up as a person would; no genuine figure lies that close."""
    arr = np.asarray(x, dtype=float)
    cents: np.ndarray = (np.sign(arr) * np.floor(np.abs(arr) * 100 + 0.5 + 1e-6)).astype(np.int64)
    return cents


def empty_values(book: Rulebook, districts: list[str]) -> pd.DataFrame:
    return pd.DataFrame(np.nan, index=pd.Index(districts, name="区"), columns=list(book.indicators), dtype=float)


def score(values: pd.DataFrame, book: Rulebook) -> Scores:
    values = values.reindex(columns=list(book.indicators)).astype(float)
    index = values.index
    columns = _columns(values)
    cents, status, raw_frame, gated_frame, parts = {}, {}, {}, {}, {}
    for target in book.targets:
        scored = score_target(columns, book, target, len(index))
        cents[target.number] = scored.cents
        status[target.number] = np.where(scored.missing, MISSING, NORMAL)
        raw_frame[target.number], gated_frame[target.number] = scored.raw, scored.closed & ~scored.missing
        parts[target.number] = scored.parts
    target_cents = pd.DataFrame(cents, index=index)
    status_frame = pd.DataFrame(status, index=index)
    categories, totals = roll_up(target_cents, status_frame == MISSING, book)
    return Scores(target_cents / 100, status_frame, pd.DataFrame(raw_frame, index=index),
                  pd.DataFrame(gated_frame, index=index), parts, categories, totals)


@dataclass
class TargetScore:
    cents: np.ndarray  # the target's score in integer cents, per row
    missing: np.ndarray  # True where a required indicator is blank (缺报)
    raw: np.ndarray  # base + components before gates and clamps
    closed: np.ndarray  # True where a gate closed
    parts: list[np.ndarray]  # each component's points (or, for a gate, whether it closed)


def score_target(columns: dict[str, np.ndarray], book: Rulebook, target: Target, size: int) -> TargetScore:
    """One target for every row of `columns` (code → float column, NaN for blank): the engine's one rule."""
    missing = _missing_mask(columns, book, target, size)
    raw = np.full(size, target.base, dtype=float)
    closed = np.zeros(size, dtype=bool)
    parts = component_results(target, _filled(columns, target))
    for component, result in zip(target.components, parts):
        if component.spec.is_gate:
            closed |= result
        else:
            raw = raw + result
    upper = np.inf if target.max is None else target.max
    clamped = np.where(closed | missing, 0.0, np.clip(raw, 0, upper))
    return TargetScore(to_cents(clamped), missing, raw, closed, parts)


def component_results(target: Target, filled: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Each component's points (or, for a gate, whether it closes) for every district."""
    results = []
    for component in target.components:
        relative_to = getattr(component.params, "relative_to", None)
        other = filled[relative_to] if relative_to else None
        results.append(component.spec.score(component.params, filled[component.indicator], other))
    return results


def _columns(values: pd.DataFrame) -> dict[str, np.ndarray]:
    """code → its float column, taken out of pandas once."""
    matrix = values.to_numpy(dtype=float)
    return {code: matrix[:, i] for i, code in enumerate(values.columns)}


def _missing_mask(columns: dict[str, np.ndarray], book: Rulebook, target: Target, size: int) -> np.ndarray:
    missing = np.zeros(size, dtype=bool)
    for code in target.indicators:
        if not book.indicators[code].blank_is_zero:
            missing |= np.isnan(columns[code])
    return missing


def _filled(columns: dict[str, np.ndarray], target: Target) -> dict[str, np.ndarray]:
    """The target's columns with blanks as 0 (only bonus blanks reach scoring; others are 缺报)."""
    return {code: np.nan_to_num(columns[code], nan=0.0) for code in target.indicators}


def roll_up(target_cents: pd.DataFrame, missing: pd.DataFrame, book: Rulebook) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Targets (integer cents) → categories (capped) and totals with ranks; rows are districts or candidates."""
    cents = target_cents.to_numpy(dtype=np.int64)
    column = {number: i for i, number in enumerate(target_cents.columns)}
    categories: dict[int, np.ndarray] = {}
    basic = np.zeros(len(cents), dtype=np.int64)
    bonus = np.zeros(len(cents), dtype=np.int64)
    for category in book.categories:
        members = [column[t.number] for t in book.targets if t.category == category.number]
        total = cents[:, members].sum(axis=1)
        if not category.bonus:
            total = np.minimum(total, int(round((category.points or 0.0) * 100)))
            basic = basic + total
        else:
            bonus = bonus + total
        categories[category.number] = total
    index = target_cents.index
    category_frame = pd.DataFrame(categories, index=index)
    overall = pd.Series(basic + bonus, index=index)
    totals = pd.DataFrame({
        "基本分": basic / 100, "加分": bonus / 100, "总分": overall / 100,
        "排名": overall.rank(method="min", ascending=False).astype(int),
        "缺报项数": missing.to_numpy().sum(axis=1).astype(int),
    }, index=index)
    return category_frame / 100, totals


UNREADABLE = "?"  # in an explanation row, before why: a value was entered but not taken


def explain(values: pd.DataFrame, book: Rulebook, scores: Scores, unreadable: pd.DataFrame | None = None) -> pd.DataFrame:
    """district × target number: how each score arose, in Chinese. Computed once per distinct
    combination of a target's values, so thousands of similar districts cost little. `unreadable`
    (district × code: why a typed entry was not taken, such as '“3.5”超过最高分3', '' where it was;
    or True where it was not) lets a 缺报 say so instead of "未填报"."""
    values = values.reindex(columns=list(book.indicators)).astype(float)
    by_code = _columns(values)
    flags = {} if unreadable is None else _refusal_marks(unreadable, values)
    out = {}
    for target in book.targets:
        columns = [by_code[code] if code not in flags else
                   np.where(flags[code] != "", flags[code], by_code[code].astype(object))
                   for code in target.indicators]
        columns += [np.round(np.asarray(r, dtype=float), 9) for r in scores.parts[target.number]]
        columns += [scores.status[target.number].to_numpy() == MISSING, np.round(scores.raw[target.number].to_numpy(), 9),
                    scores.gated[target.number].to_numpy()]
        rows = list(zip(*[[None if x != x else x for x in column.tolist()] for column in columns]))  # NaN → None
        words: dict[tuple[Any, ...], str] = {}  # each component's words: far fewer than the distinct rows
        texts = {row: _explain_target(book, target, row, words) for row in dict.fromkeys(rows)}
        out[target.number] = [texts[row] for row in rows]
    return pd.DataFrame(out, index=values.index)


def _refusal_marks(unreadable: pd.DataFrame, values: pd.DataFrame) -> dict[str, np.ndarray]:
    """code → in values' row order, '' where an entry was taken (or nothing typed), UNREADABLE + why (perhaps
    nothing) where not; only codes with at least one such entry. Column by column in plain Python: pandas'
    where/replace on a frame of text cost more than explaining every score."""
    flags = all(pd.api.types.is_bool_dtype(dtype) for dtype in unreadable.dtypes)
    rows = unreadable.index.get_indexer(values.index)
    marks = {}
    for code in values.columns:
        if code not in unreadable.columns:
            continue
        column = unreadable[code].tolist()
        if _nothing_marked(column, flags):  # as in most columns
            continue
        marked = [_mark(column[row], flags) if row >= 0 else "" for row in rows]
        if any(marked):
            marks[code] = np.array(marked, dtype=object)
    return marks


def _nothing_marked(column: list[Any], flags: bool) -> bool:
    """Whether every cell of a column of `unreadable` is False (flags) or '' (reasons): no marks to make."""
    return set(map(type, column)) == {bool if flags else str} and not any(column)


def _mark(cell: Any, flags: bool) -> str:
    """One cell of `unreadable` as a mark: True/False (flags), or why (text; '', None or NaN where nothing is wrong)."""
    if flags:
        return UNREADABLE if cell is not pd.NA and cell else ""
    reason = cell if type(cell) is str else "" if pd.isna(cell) else str(cell)
    return UNREADABLE + reason if reason else ""


def _explain_target(book: Rulebook, target: Target, row: tuple[Any, ...], words: dict[tuple[Any, ...], str]) -> str:
    """A target's explanation for one row of explain's columns; `words` keeps each component's words by its
    position, value, points and other value (a zero with its sign: -0 is shown as written)."""
    *cells, missing, raw, gated = row
    points = cells[len(target.indicators):]
    value = {code: np.nan if cell is None or isinstance(cell, str) else cell
             for code, cell in zip(target.indicators, cells)}
    if missing:
        unread = [f"{book.indicators[c].label}填写的" + (cell[1:] or "内容无法识别")
                  for c, cell in zip(target.indicators, cells) if isinstance(cell, str)]
        blanks = [book.indicators[c].label for c, cell in zip(target.indicators, cells)
                  if cell is None and not book.indicators[c].blank_is_zero]
        said = ([f"{'、'.join(blanks)}未填报"] if blanks else []) + unread
        return f"缺报：{'；'.join(said)}，本项计0分"
    parts = [f"基础分{fmt_number(target.base)}分"] if target.base else []
    gate_parts: list[str] = []
    for position, (component, pts) in enumerate(zip(target.components, points)):
        x = _zero_if_blank(value[component.indicator])
        other_code = getattr(component.params, "relative_to", None)
        other = None if not other_code else _zero_if_blank(value[other_code])
        key = (position, _signed(x), _signed(pts), _signed(other))
        text = words.get(key)
        if text is None:
            text = words[key] = component.spec.explain(component.params, book.indicators[component.indicator], x, pts,
                                                      other, target.max is None)
        (gate_parts if component.spec.is_gate else parts).append(text)
    parts = [p for p in parts if p]
    if gated:
        return "；".join([p for p in gate_parts if p])
    if target.max is not None and raw > target.max + 1e-9:
        parts.append(f"合计超过满分，按{fmt_number(target.max)}分计")
    elif raw < -1e-9:
        parts.append("扣完为止，计0分")
    elif target.base and len(parts) == 1:
        parts.append("无扣分")
    return "；".join(parts)


def _signed(value: Any) -> Any:
    """A value as a key that tells 0.0 from -0.0 (equal, but shown as 0 and -0 in places)."""
    return value if value or value is None else (value, math.copysign(1.0, value))


def _zero_if_blank(value: float) -> float:
    return 0.0 if value != value else value  # NaN, a blank, is the one value unequal to itself
