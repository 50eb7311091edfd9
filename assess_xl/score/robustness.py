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
from assess_xl.rules.model import Rulebook
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
    candidates = rescored(values, book, scores, _typed_neighbours(values, book))
    filled = rescored(values, book, scores, _missing_fills(values, book))
    return Robustness(scores.totals["排名"], _pairs(scores, totals, candidates), _missing_flags(scores, filled),
                      _alternatives(values, book, scores))


def _cents(series: pd.Series) -> np.ndarray:
    return scoring.to_cents(series.to_numpy())


# ---- candidate single-cell changes ----------------------------------------------------------

def _numeric_neighbours(x: np.ndarray, indicator: Indicator) -> tuple[np.ndarray, np.ndarray]:
    """(row, new value) for each value some steps above and below x, within the indicator's bounds."""
    step = STEP_OF_TYPE[indicator.type]
    offsets = np.concatenate([-STEPS, STEPS]) * step
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


def _typed_neighbours(values: pd.DataFrame, book: Rulebook) -> pd.DataFrame:
    """Every typed (or bonus-blank) cell's neighbouring values: row, code, old, new, steps."""
    frames = []
    for code, indicator in book.indicators.items():
        column = values[code].to_numpy()
        x = np.where(np.isnan(column) & indicator.blank_is_zero, 0.0, column)
        typed = ~np.isnan(x)
        if indicator.type == "bool":
            rows, new = _option_neighbours(x, 2)
        elif indicator.type == "choice":
            rows, new = _option_neighbours(x, len(indicator.options))
        else:
            rows, new = _numeric_neighbours(x, indicator)
        keep = typed[rows]
        rows, new = rows[keep], new[keep]
        steps = (np.ones(len(rows)) if indicator.type in ("bool", "choice")
                 else np.round(np.abs(new - x[rows]) / STEP_OF_TYPE[indicator.type], 6))
        frames.append(pd.DataFrame({"row": rows, "code": code, "old": column[rows], "new": new, "steps": steps}))
    return pd.concat(frames, ignore_index=True)


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
    frames = []
    for code, indicator in book.indicators.items():
        if indicator.blank_is_zero:
            continue
        column = values[code].to_numpy()
        rows = np.flatnonzero(np.isnan(column))
        for value in _extremes(indicator, column) if len(rows) else []:
            frames.append(pd.DataFrame({"row": rows, "code": code, "old": np.nan, "new": value, "steps": 0.0}))
    empty = pd.DataFrame({"row": pd.Series(dtype=int), "code": pd.Series(dtype=str), "old": pd.Series(dtype=float),
                          "new": pd.Series(dtype=float), "steps": pd.Series(dtype=float)})
    return pd.concat([empty, *frames], ignore_index=True)


def rescored(values: pd.DataFrame, book: Rulebook, scores: Scores, changes: pd.DataFrame) -> pd.DataFrame:
    """The changes with each one's new total (cents) and rank, scored by the engine: per target, all of its
    candidate rows at once, then the district's other targets rolled up as the result does."""
    matrix = values.to_numpy(dtype=float)
    position = {code: i for i, code in enumerate(values.columns)}
    target_cents = scoring.to_cents(scores.targets.to_numpy())
    missing = (scores.status == scoring.MISSING).to_numpy()
    numbers = list(scores.targets.columns)
    all_rows, all_new = changes["row"].to_numpy(dtype=int), changes["new"].to_numpy(dtype=float)
    codes = changes["code"].to_numpy(dtype=object)
    code_targets = np.array([book.indicators[c].target for c in codes], dtype=int) if len(codes) else np.zeros(0, int)
    totals = np.empty(len(changes), dtype=np.int64)
    for target in book.targets:
        chosen = np.flatnonzero(code_targets == target.number)
        if not len(chosen):
            continue
        rows, new, changed = all_rows[chosen], all_new[chosen], codes[chosen]
        columns = {code: matrix[rows, position[code]].copy() for code in target.indicators}
        for code in target.indicators:
            hit = changed == code
            columns[code][hit] = new[hit]
        result = scoring.score_target(columns, book, target, len(rows))
        cents, gaps = target_cents[rows], missing[rows]
        column = numbers.index(target.number)
        cents[:, column], gaps[:, column] = result.cents, result.missing
        _, rolled = scoring.roll_up(pd.DataFrame(cents, columns=numbers), pd.DataFrame(gaps, columns=numbers), book)
        totals[chosen] = scoring.to_cents(rolled["总分"].to_numpy())
    out = changes.assign(total=totals)
    return out.assign(rank=_rank_among(out, _cents(scores.totals["总分"])))


def _rank_among(changes: pd.DataFrame, totals: np.ndarray) -> np.ndarray:
    """The changed district's rank among the others as they are (ties share a rank)."""
    ordered = np.sort(totals)
    above = len(totals) - np.searchsorted(ordered, changes["total"].to_numpy(), side="right")
    own = totals[changes["row"].to_numpy(dtype=int)]
    rank: np.ndarray = 1 + above - (own > changes["total"].to_numpy())
    return rank


# ---- what the changes say -------------------------------------------------------------------

def _pairs(scores: Scores, totals: np.ndarray, candidates: pd.DataFrame) -> list[Pair]:
    """Pair k is (order[k], order[k + 1]). A change of the upper one swaps them when its total falls below the
    lower's; a change of the lower one when its total rises above the upper's. All pairs at once."""
    order = np.lexsort((np.arange(len(totals)), -totals))
    place = np.empty(len(order), dtype=int)
    place[order] = np.arange(len(order))
    rows, new_totals = candidates["row"].to_numpy(dtype=int), candidates["total"].to_numpy()
    below = np.append(totals[order][1:], np.iinfo(np.int64).min)[place[rows]]  # the next district's total
    above = np.insert(totals[order][:-1], 0, np.iinfo(np.int64).max)[place[rows]]  # the one before
    falls, rises = new_totals < below, new_totals > above
    pair = np.concatenate([place[rows][falls], place[rows][rises] - 1])
    side = np.concatenate([np.zeros(falls.sum(), dtype=int), np.ones(rises.sum(), dtype=int)])
    found = np.concatenate([np.flatnonzero(falls), np.flatnonzero(rises)])
    steps = candidates["steps"].to_numpy()[found]
    # fewest steps first; among equals the upper district's change, then the rulebook's order of codes
    ranked = np.lexsort((found, side, steps, pair))
    first = {int(p): int(found[i]) for p, i in zip(*_first_of_each(pair[ranked], ranked))}
    districts, ranks = scores.districts, scores.totals["排名"].to_numpy()
    deciding = _deciding(scores, order)
    return [Pair(districts[upper], districts[lower], int(ranks[upper]), int(ranks[lower]),
                 (totals[upper] - totals[lower]) / 100, deciding[k],
                 _change(candidates, first[k], districts, ranks) if k in first else None)
            for k, (upper, lower) in enumerate(zip(order[:-1], order[1:]))]


def _first_of_each(keys: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    unique, index = np.unique(keys, return_index=True)
    return unique, positions[index]


def _deciding(scores: Scores, order: np.ndarray) -> list[tuple[tuple[int, float], ...]]:
    """Per pair, the targets where the upper and lower districts' scores differ most (largest first)."""
    cents = scoring.to_cents(scores.targets.to_numpy())
    numbers = list(scores.targets.columns)
    difference = cents[order[:-1]] - cents[order[1:]]
    biggest = np.argsort(-np.abs(difference), axis=1, kind="stable")[:, :DECIDING]
    return [tuple((int(numbers[j]), row[j] / 100) for j in picks if row[j] != 0)
            for row, picks in zip(difference, biggest)]


def _change(candidates: pd.DataFrame, at: int, districts: list[str], ranks: np.ndarray) -> Change:
    best = candidates.iloc[at]
    row = int(best["row"])
    return Change(districts[row], str(best["code"]), float(best["old"]), float(best["new"]), float(best["steps"]),
                  int(best["total"]) / 100, int(best["rank"]), int(ranks[row]))


def _missing_flags(scores: Scores, filled: pd.DataFrame) -> list[MissingFlag]:
    ranks = scores.totals["排名"].to_numpy()
    flags = []
    for (row, code), group in filled.groupby(["row", "code"], sort=True):
        best, worst = int(group["rank"].min()), int(group["rank"].max())
        if (best, worst) != (ranks[row], ranks[row]):
            flags.append(MissingFlag(scores.districts[int(row)], str(code), int(ranks[row]), best, worst))
    return flags


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
