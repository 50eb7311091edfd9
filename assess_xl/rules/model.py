"""The rulebook (评分细则) as data: categories, targets, indicators and their scoring components, and the
figures `rules check` prints. Loading and validating one is rules.load's; this module reads no file."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from assess_xl import problems as P
from assess_xl.rules.components import KINDS, Component, Indicator
from assess_xl.rules.terms import PARAMETERS, TYPES

INDICATOR_TYPES = tuple(TYPES.terms)
Raw = dict[str, Any]  # a rulebook as YAML or the rulebook workbook gives it, before validation


class RulebookError(P.AssessError):
    """The rulebook cannot be used; `problems` gives every reason at once."""

    heading = P.Code.RULEBOOK_UNUSABLE


@dataclass(frozen=True)
class Category:
    number: int
    name: str
    points: float | None  # None: an uncapped bonus category
    note: str = ""

    @property
    def bonus(self) -> bool:
        return self.points is None


@dataclass(frozen=True)
class Target:
    number: int
    category: int
    text: str
    rule: str
    max: float | None  # None: uncapped (bonus)
    base: float = 0.0
    note: str = ""
    stated_points: float | None = None
    indicators: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()


@dataclass(frozen=True)
class Alternative:
    """A reading of the seed that the rulebook did not choose (`alternatives:`): the target's components
    replaced by these. Shown beside the chosen ranking, never used for the result."""
    name: str
    target: int
    components: tuple[Component, ...]
    note: str = ""


@dataclass(frozen=True)
class Rulebook:
    year: int
    title: str
    departments: tuple[str, ...]
    categories: tuple[Category, ...]
    targets: tuple[Target, ...]
    indicators: dict[str, Indicator] = field(hash=False)
    fingerprint: str = ""
    source: str = ""
    warnings: tuple[P.Problem, ...] = ()
    issuer: str = "市环境保护局"
    alternatives: tuple[Alternative, ...] = ()

    def document_title(self, what: str) -> str:
        """'2007年度…考核结果': the year once, whether or not the rulebook's title already holds it."""
        year = f"{self.year}年度"
        return f"{self.title}{what}" if year in self.title else f"{year}{self.title}{what}"

    def category(self, number: int) -> Category:
        return next(c for c in self.categories if c.number == number)

    def target(self, number: int) -> Target:
        return next(t for t in self.targets if t.number == number)

    def department_indicators(self, department: str) -> list[Indicator]:
        return [i for i in self.indicators.values() if i.department == department]

    def department_of(self, problem: P.Problem) -> str:
        """The department a problem concerns ('' for a whole file or the coordinator's own rows)."""
        if problem.code in self.indicators:
            return self.indicators[problem.code].department
        return problem.sheet if problem.sheet in self.departments else ""

    def reachable_max(self, target: Target) -> float:
        gain = sum(c.spec.best(c.params, self.indicators[c.indicator]) for c in target.components)
        total = target.base + gain
        return total if target.max is None else min(total, target.max)

    def short_of_points(self) -> list[tuple[Target, float]]:
        """Targets whose scoring items cannot reach their 分值, each with the most anyone can earn:
        the rulebook's own gap, which no district can be blamed for."""
        reach = ((target, self.reachable_max(target)) for target in self.targets if target.max is not None)
        return [(target, most) for target, most in reach if most < (target.max or 0.0) - 1e-9]

    def with_alternative(self, alternative: Alternative) -> "Rulebook":
        """This rulebook read the other way: the alternative's target scored by its components."""
        targets = tuple(replace(t, components=alternative.components) if t.number == alternative.target else t
                        for t in self.targets)
        return replace(self, targets=targets, alternatives=())

    @property
    def nominal_total(self) -> float:
        return sum(c.points or 0.0 for c in self.categories if not c.bonus)


def integral(value: Any) -> Any:
    """2.0 and 2 are the same points whether written in YAML or read from a cell."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integral(item) for item in value]
    return value


def parameters_of(kind: str) -> list[str]:
    """A kind's parameter keys in the vocabulary's (the workbook's) order."""
    own = KINDS[kind].required | KINDS[kind].optional
    return [key for key in PARAMETERS.terms if key in own]


def summary(book: Rulebook) -> dict[str, Any]:
    """Figures that `rules check` prints."""
    per_department = {d: len(book.department_indicators(d)) for d in book.departments}
    reach = sum(book.reachable_max(t) for t in book.targets if not book.category(t.category).bonus)
    return {"year": book.year, "title": book.title, "categories": len(book.categories),
            "targets": len(book.targets), "indicators": len(book.indicators),
            "per_department": per_department, "nominal": book.nominal_total,
            "reachable": min(reach, book.nominal_total) if not math.isinf(reach) else reach,
            "fingerprint": book.fingerprint}
