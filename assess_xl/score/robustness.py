"""How firm each rank is: for every pair of neighbouring ranks the margin, the targets that decide it and
the smallest change of one typed value that would swap the two; districts whose rank hangs on a 缺报 item;
the ranking under each alternative reading the rulebook declares.

Every candidate change is scored by the engine itself (`scoring.score_target` and `scoring.roll_up`),
all candidates of a target at once: one row per (district, changed cell, new value)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assess_xl.rules.components import Indicator, fmt_number
from assess_xl.rules.model import Category, Rulebook
from assess_xl.score import scoring
from assess_xl.score.scoring import Scores

# A typed value's neighbours are searched this many of its steps away (then clipped to its bounds).
STEPS = np.array(sorted({*range(1, 21), 25, 30, 40, 50, 60, 80, 100, 150, 200, 300, 500, 1000}), dtype=float)
STEP_OF_TYPE = {"count": 1.0, "amount": 1.0, "percent": 0.01, "score": 0.1, "deduction": 0.1}
DECIDING = 3  # targets named as deciding a pair


@dataclass(frozen=True)
class Change:
    """One typed value changed: what it would make of the district's total and rank."""
    district: str
    code: str
    old: float
    new: float
    steps: float  # how far, in the indicator's own steps (1 for a 是/否 or an option)
    total: float
    rank: int  # the district's rank after the change
    was: int  # its rank before


@dataclass(frozen=True)
class Pair:
    upper: str
    lower: str
    upper_rank: int
    lower_rank: int
    margin: float
    deciding: tuple[tuple[int, float], ...]  # (target, upper's score − lower's), largest difference first
    smallest: Change | None  # None: no single typed value within the searched steps swaps them


@dataclass(frozen=True)
class MissingFlag:
    district: str
    code: str
    rank: int
    best_rank: int  # the rank if this 缺报 item were filled with its best value
    worst_rank: int


@dataclass(frozen=True)
class AlternativeRanking:
    name: str
    target: int
    note: str
    ranks: pd.Series  # district → rank under this reading
    moved: tuple[str, ...]


@dataclass
class Robustness:
    ranks: pd.Series
    pairs: list[Pair] = field(default_factory=list)
    missing: list[MissingFlag] = field(default_factory=list)
    alternatives: list[AlternativeRanking] = field(default_factory=list)


def assess(values: pd.DataFrame, book: Rulebook, scores: Scores | None = None) -> Robustness:
    values = values.reindex(columns=list(book.indicators)).astype(float)
    scores = scores if scores is not None else scoring.score(values, book)
    totals = _cents(scores.totals["总分"])
    filled = rescored(values, book, scores, _missing_fills(values, book))
    return Robustness(scores.totals["排名"], _pairs(values, book, scores, totals), _missing_flags(scores, filled),
                      _alternatives(values, book, scores))


def _cents(series: pd.Series) -> np.ndarray:
    return scoring.to_cents(series.to_numpy())


# ---- candidate single-cell changes ----------------------------------------------------------

def _numeric_neighbours(x: np.ndarray, indicator: Indicator, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, new value) for each value `steps` below and above x, within the indicator's bounds."""
    step = STEP_OF_TYPE[indicator.type]
    offsets = np.concatenate([-steps, steps]) * step
    new = np.round(x[:, None] + offsets[None, :], 9)
    low = indicator.min if indicator.min is not None else 0.0
    high = indicator.max if indicator.max is not None else np.inf
    rows = np.broadcast_to(np.arange(len(x))[:, None], new.shape)
    keep = (new >= low - 1e-9) & (new <= high + 1e-9) & ~np.isnan(new)
    return rows[keep], new[keep]


def _option_neighbours(x: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    options = np.arange(count, dtype=float)
    new = np.broadcast_to(options[None, :], (len(x), count))
    rows = np.broadcast_to(np.arange(len(x))[:, None], new.shape)
    keep = new != x[:, None]
    return rows[keep], new[keep]


def _typed_neighbours(values: pd.DataFrame, book: Rulebook, away: np.ndarray = STEPS,
                      districts: np.ndarray | None = None) -> pd.DataFrame:
    """Typed (or bonus-blank) cells' neighbouring values this many steps `away` (a 是/否 or an option is one
    step), of every district or those marked in `districts`: row, code, old, new, steps. The rows come in
    the same order whatever the steps asked for (code, district, then the steps down and the steps up)."""
    parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    options = away[0] == 1.0
    for code, indicator in book.indicators.items():
        if indicator.type in ("bool", "choice") and not options:
            continue
        column = values[code].to_numpy()
        x = np.where(np.isnan(column) & indicator.blank_is_zero, 0.0, column)
        typed = ~np.isnan(x) if districts is None else ~np.isnan(x) & districts
        if indicator.type == "bool":
            rows, new = _option_neighbours(x, 2)
        elif indicator.type == "choice":
            rows, new = _option_neighbours(x, len(indicator.options))
        else:
            rows, new = _numeric_neighbours(x, indicator, away)
        keep = typed[rows]
        rows, new = rows[keep], new[keep]
        steps = (np.ones(len(rows)) if indicator.type in ("bool", "choice")
                 else np.round(np.abs(new - x[rows]) / STEP_OF_TYPE[indicator.type], 6))
        parts.append((code, rows, column[rows], new, steps))
    return _changes(parts)


def _changes(parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """One frame of candidate changes from (code, rows, old, new, steps) per indicator, built once."""
    lengths = [len(rows) for _, rows, _, _, _ in parts]
    joined = [np.concatenate([part[i] for part in parts]) if parts else np.zeros(0) for i in (1, 2, 3, 4)]
    names = list(dict.fromkeys(code for code, *_ in parts))
    ids = np.repeat(np.array([names.index(code) for code, *_ in parts], dtype=np.int32), lengths)
    codes = pd.Categorical.from_codes(ids, categories=names)  # one small integer per row, not an object each
    return pd.DataFrame({"row": joined[0].astype(int), "code": codes, "old": joined[1].astype(float),
                         "new": joined[2].astype(float), "steps": joined[3].astype(float)}, copy=False)


def _extremes(indicator: Indicator, column: np.ndarray) -> list[float]:
    """The values a blank item could take at either end: both answers, every option, or the bounds (the
    largest value anyone reported when the indicator has no upper bound)."""
    if indicator.type == "bool":
        return [0.0, 1.0]
    if indicator.type == "choice":
        return [float(i) for i in range(len(indicator.options))]
    low = indicator.min or 0.0
    reported = column[~np.isnan(column)]
    high = indicator.max if indicator.max is not None else max([low + 1.0, *reported.tolist()])
    return [low, high]


def _missing_fills(values: pd.DataFrame, book: Rulebook) -> pd.DataFrame:
    """Each 缺报 cell filled with each extreme value: row, code, old (NaN), new, steps (0)."""
    parts = []
    for code, indicator in book.indicators.items():
        if indicator.blank_is_zero:
            continue
        column = values[code].to_numpy()
        rows = np.flatnonzero(np.isnan(column))
        for value in _extremes(indicator, column) if len(rows) else []:
            parts.append((code, rows, np.full(len(rows), np.nan), np.full(len(rows), value), np.zeros(len(rows))))
    return _changes(parts)


def rescored(values: pd.DataFrame, book: Rulebook, scores: Scores, changes: pd.DataFrame,
             ranked: bool = True) -> pd.DataFrame:
    """The changes with each one's new total (cents) and, when `ranked`, rank. Each target's candidate rows are
    scored at once by the engine (`scoring.score_target`); the new total is the district's total with that
    target's category summed again and capped as `scoring.roll_up` caps it (the other categories are unchanged)."""
    matrix = values.to_numpy(dtype=float)
    position = {code: i for i, code in enumerate(values.columns)}
    target_cents = scoring.to_cents(scores.targets.to_numpy())
    numbers = list(scores.targets.columns)
    sums = _category_sums(book, target_cents, numbers)
    now = _cents(scores.totals["总分"])
    all_rows, all_new = changes["row"].to_numpy(dtype=int), changes["new"].to_numpy(dtype=float)
    code_ids, codes = _code_ids(changes["code"])
    id_of = {code: i for i, code in enumerate(codes)}
    candidate_targets = np.array([book.indicators[c].target for c in codes], dtype=int)[code_ids]
    totals = np.empty(len(changes), dtype=np.int64)
    for target in book.targets:
        chosen = np.flatnonzero(candidate_targets == target.number)
        if not len(chosen):
            continue
        rows, new, changed = all_rows[chosen], all_new[chosen], code_ids[chosen]
        columns = {code: matrix[rows, position[code]].copy() for code in target.indicators}
        for code in (c for c in target.indicators if c in id_of):
            hit = changed == id_of[code]
            columns[code][hit] = new[hit]
        result = scoring.score_target(columns, book, target, len(rows))
        category = book.category(target.category)
        before = sums[category.number][rows]
        after = before - target_cents[rows, numbers.index(target.number)] + result.cents
        totals[chosen] = now[rows] - _capped(before, category) + _capped(after, category)
    out = changes.copy(deep=False)  # new columns beside the same data: assign copied millions of rows twice
    out["total"] = totals
    if ranked:
        out["rank"] = _rank_among(out, now)
    return out


def _code_ids(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's code as a number, and the codes those numbers stand for."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), list(column.cat.categories)
    ids, codes = pd.factorize(column.to_numpy(dtype=object))
    return ids, list(codes)


def _category_sums(book: Rulebook, target_cents: np.ndarray, numbers: list[int]) -> dict[int, np.ndarray]:
    """Category number → each district's sum of its targets' cents, before the category's cap."""
    return {category.number: target_cents[:, [numbers.index(t.number) for t in book.targets
                                              if t.category == category.number]].sum(axis=1)
            for category in book.categories}


def _capped(cents: np.ndarray, category: Category) -> np.ndarray:
    """A category's cents as `scoring.roll_up` counts them: a bonus category uncapped, others at most its points."""
    return cents if category.bonus else np.minimum(cents, int(round((category.points or 0.0) * 100)))


def _rank_among(changes: pd.DataFrame, totals: np.ndarray) -> np.ndarray:
    """The changed district's rank among the others as they are (ties share a rank)."""
    ordered = np.sort(totals)
    above = len(totals) - np.searchsorted(ordered, changes["total"].to_numpy(), side="right")
    own = totals[changes["row"].to_numpy(dtype=int)]
    rank: np.ndarray = 1 + above - (own > changes["total"].to_numpy())
    return rank


# ---- what the changes say -------------------------------------------------------------------

def _pairs(values: pd.DataFrame, book: Rulebook, scores: Scores, totals: np.ndarray) -> list[Pair]:
    """Pair k is (order[k], order[k + 1]): its margin, deciding targets and smallest swapping change."""
    order = np.lexsort((np.arange(len(totals)), -totals))
    districts, ranks = scores.districts, scores.totals["排名"].to_numpy()
    deciding = _deciding(scores, order)
    smallest = _smallest_changes(values, book, scores, totals, order)
    return [Pair(districts[upper], districts[lower], int(ranks[upper]), int(ranks[lower]),
                 (totals[upper] - totals[lower]) / 100, deciding[k], smallest.get(k))
            for k, (upper, lower) in enumerate(zip(order[:-1], order[1:]))]


def _smallest_changes(values: pd.DataFrame, book: Rulebook, scores: Scores, totals: np.ndarray,
                      order: np.ndarray) -> dict[int, Change]:
    """Pair → its smallest swapping change. Every pair is searched first among the changes of one step (a 是/否
    or an option changed, a number one step away: a tenth of all candidates, and at 1,000 districts every pair
    is decided there); the pairs left, among their two districts' changes of more steps. The fewest steps win
    either way, so each pair gets the change a search of all candidates at once finds."""
    found = _swapping(values, book, scores, totals, order, _typed_neighbours(values, book, STEPS[:1]))
    left = np.setdiff1d(np.arange(len(order) - 1), np.fromiter(found, dtype=int, count=len(found)))
    if len(left):
        districts = np.zeros(len(order), dtype=bool)
        districts[order[left]] = districts[order[left + 1]] = True
        more = _swapping(values, book, scores, totals, order, _typed_neighbours(values, book, STEPS[1:], districts))
        found.update((k, more[k]) for k in left.tolist() if k in more)
    return found


def _swapping(values: pd.DataFrame, book: Rulebook, scores: Scores, totals: np.ndarray, order: np.ndarray,
              changes: pd.DataFrame) -> dict[int, Change]:
    """Pair → the smallest of `changes` that swaps it. A change of the upper district swaps a pair when its total
    falls below the lower's; a change of the lower one when its total rises above the upper's. All pairs at once."""
    candidates = rescored(values, book, scores, changes, ranked=False)
    place = np.empty(len(order), dtype=int)
    place[order] = np.arange(len(order))
    new_totals = candidates["total"].to_numpy()
    places = place[candidates["row"].to_numpy(dtype=int)]
    below = np.append(totals[order][1:], np.iinfo(np.int64).min)[places]  # the next district's total
    above = np.insert(totals[order][:-1], 0, np.iinfo(np.int64).max)[places]  # the one before
    falls, rises = new_totals < below, new_totals > above
    del below, above
    pair = np.concatenate([places[falls], places[rises] - 1])
    found = np.concatenate([np.flatnonzero(falls), np.flatnonzero(rises)])
    steps = candidates["steps"].to_numpy()[found]
    # fewest steps first; among equals the upper district's change (the falls come first), then the rulebook's
    # order of codes (found ascends within each side): a stable sort by pair and steps keeps that order
    ranked = np.lexsort((steps, pair))
    first = {int(p): int(found[i]) for p, i in zip(*_first_of_each(pair[ranked], ranked))}
    return _changes_at(candidates, first, scores.districts, scores.totals["排名"].to_numpy(), totals)


def _first_of_each(keys: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct key of sorted `keys` and the position beside its first occurrence."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, dtype=int)
    return keys[starts], positions[starts]


def _deciding(scores: Scores, order: np.ndarray) -> list[tuple[tuple[int, float], ...]]:
    """Per pair, the targets where the upper and lower districts' scores differ most (largest first)."""
    cents = scoring.to_cents(scores.targets.to_numpy())
    numbers = list(scores.targets.columns)
    difference = cents[order[:-1]] - cents[order[1:]]
    biggest = np.argsort(-np.abs(difference), axis=1, kind="stable")[:, :DECIDING]
    return [tuple((int(numbers[j]), row[j] / 100) for j in picks if row[j] != 0)
            for row, picks in zip(difference, biggest)]


def _changes_at(candidates: pd.DataFrame, at: dict[int, int], districts: list[str], ranks: np.ndarray,
                totals: np.ndarray) -> dict[int, Change]:
    """Pair → the candidate change at the position `at` gives it, taken out of the frame at once; its rank
    among the districts as they are (`totals`, cents) worked out for the picked changes only."""
    picked = candidates.iloc[list(at.values())]
    picked = picked.assign(rank=_rank_among(picked, totals))
    columns = [picked[name].tolist() for name in ("row", "code", "old", "new", "steps", "total", "rank")]
    return {k: Change(districts[row], str(code), float(old), float(new), float(steps), int(total) / 100, int(rank),
                      int(ranks[row]))
            for k, row, code, old, new, steps, total, rank in zip(at, *columns)}


def _missing_flags(scores: Scores, filled: pd.DataFrame) -> list[MissingFlag]:
    """Each 缺报 cell (by district, then code) whose best and worst fills give another rank than now."""
    if not len(filled):
        return []
    ranks, districts = scores.totals["排名"].to_numpy(), scores.districts
    code_ids, codes = pd.factorize(filled["code"].to_numpy(dtype=object), sort=True)
    key = filled["row"].to_numpy(dtype=np.int64) * len(codes) + code_ids
    order = np.argsort(key, kind="stable")
    starts = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1]])
    rank = filled["rank"].to_numpy()[order]
    best, worst = np.minimum.reduceat(rank, starts), np.maximum.reduceat(rank, starts)
    groups = key[order][starts]
    return [MissingFlag(districts[row], str(codes[code]), int(ranks[row]), int(low), int(high))
            for (row, code), low, high in zip((divmod(int(g), len(codes)) for g in groups), best, worst)
            if (low, high) != (ranks[row], ranks[row])]


def _alternatives(values: pd.DataFrame, book: Rulebook, scores: Scores) -> list[AlternativeRanking]:
    out = []
    for alternative in book.alternatives:
        ranks = scoring.score(values, book.with_alternative(alternative)).totals["排名"]
        moved = tuple(d for d in scores.districts if ranks[d] != scores.totals.at[d, "排名"])
        out.append(AlternativeRanking(alternative.name, alternative.target, alternative.note, ranks, moved))
    return out


# ---- in words ---------------------------------------------------------------------------------

def change_sentence(change: Change, book: Rulebook) -> str:
    """若环监局报送的鼓楼区信访件数由3件改为2件，鼓楼区将升至第3名。"""
    indicator = book.indicators[change.code]
    return (f"若{indicator.department}报送的{change.district}“{indicator.label}”（{change.code}）由"
            f"{indicator.show(change.old)}改为{indicator.show(change.new)}，{change.district}总分将为"
            f"{fmt_number(change.total)}分，{'升' if change.rank < change.was else '降'}至第{change.rank}名")


def deciding_text(pair: Pair, book: Rulebook) -> str:
    return "、".join(f"目标{number}（{'+' if diff > 0 else '−'}{fmt_number(abs(diff))}）" for number, diff in pair.deciding)


def missing_text(flag: MissingFlag, book: Rulebook) -> str:
    indicator = book.indicators[flag.code]
    return (f"{flag.district}缺报“{indicator.label}”（{flag.code}，{indicator.department}）：补报后名次可能在"
            f"第{flag.best_rank}至第{flag.worst_rank}名之间（现为第{flag.rank}名）")
