"""Loading a rulebook: from YAML or from a rulebook workbook (rules.sheet, read through xlsx.ownbooks),
validated into a rules.model.Rulebook, with every problem named at once (RulebookError)."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from assess_xl.problems import Code
from assess_xl import problems as P
from assess_xl.rules import parsed
from assess_xl.rules import sheet as rulesheet
from assess_xl.rules.components import KINDS, TEXT_PARAMETERS, Component, Indicator, fmt_number, parse_points
from assess_xl.rules.model import INDICATOR_TYPES, Alternative, Category, Raw, Rulebook, RulebookError, Target, integral, parameters_of
from assess_xl.rules.terms import KINDS as KIND_TERMS, PARAMETERS, TYPES
from assess_xl.xlsx import ownbooks
from assess_xl.xlsx.layout import name_key, printable, sheet_name_problem

DEFAULT_RULEBOOK = "rulebook-2007.yaml"
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".ods")  # a rulebook written by `rules export`


def embedded_rulebook_path() -> Path:
    return Path(str(resources.files("assess_xl.templates").joinpath(DEFAULT_RULEBOOK)))


def load(path: str | Path | None = None) -> Rulebook:
    """Load and validate a rulebook (YAML, or a workbook written by `rules export`); raise
    RulebookError naming every problem at once."""
    path = Path(path) if path else embedded_rulebook_path()
    where = path.name
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        raw = load_raw_workbook(path)
        return build(raw, where, fingerprint_of(raw))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RulebookError(P.make(Code.RULE_FILE_MISSING, at=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulebookError(P.make(Code.RULE_UNREADABLE, at=path, reason=exc)) from None
    try:
        raw = parsed.parse(text)  # parsed once per text and PyYAML, kept between runs
    except parsed.ParseError as exc:
        line = f"第{exc.line + 1}行" if exc.line is not None else ""
        raise RulebookError(P.make(Code.RULE_YAML, at=f"{where}{line}", reason=exc.problem)) from None
    return build(raw, where, fingerprint_of(raw))


def load_raw(path: str | Path | None = None) -> Raw:
    """The rulebook's raw mapping, from YAML or a rulebook workbook (for export, diff and replay)."""
    path = Path(path) if path else embedded_rulebook_path()
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        return load_raw_workbook(path)
    import yaml
    try:
        raw: Raw = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return raw
    except FileNotFoundError:
        raise RulebookError(P.make(Code.RULE_FILE_MISSING, at=path)) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RulebookError(P.make(Code.RULE_UNREADABLE, at=path, reason=exc)) from None


def load_raw_workbook(path: Path) -> Raw:
    if not path.is_file():
        raise RulebookError(P.make(Code.RULE_FILE_MISSING, at=path))
    try:
        sheets = ownbooks.read(path, path.name)
    except ownbooks.OwnWorkbookError as exc:
        raise RulebookError(replace(exc.problem, message=f"{path}：{exc.problem.message}")) from None
    return rulesheet.import_sheets(sheets, path.name)


# How results are issued and which other readings are shown beside them, not what is asked or scored: outside
# the fingerprint, so forms made before an alternative was written down still belong to the rulebook.
PRESENTATION_KEYS = ("issuer", "alternatives")


def fingerprint_of(raw: object) -> str:
    if isinstance(raw, dict):
        raw = {key: value for key, value in raw.items() if key not in PRESENTATION_KEYS}
    canonical = json.dumps(integral(raw), ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def build(raw: object, where: str = "评分细则", fingerprint: str = "") -> Rulebook:
    errors: list[P.Problem] = []
    if not isinstance(raw, dict):
        raise RulebookError(P.make(Code.RULE_NOT_A_RULEBOOK, at=where))
    for key in ("year", "title", "departments", "categories", "targets"):
        if key not in raw:
            errors.append(P.make(Code.RULE_KEY_MISSING, at=where, key=key))
    if errors:
        raise RulebookError(*errors)
    departments = tuple(str(d) for d in raw["departments"] or [])
    _check_departments(departments, where, errors)
    year = _year(raw["year"], where, errors)
    categories = _categories(raw["categories"], where, errors)
    category_numbers = {c.number for c in categories}
    indicators: dict[str, Indicator] = {}
    targets = []
    for entry in raw["targets"] or []:
        target = _target(entry, where, errors, indicators, departments, category_numbers)
        if target:
            targets.append(target)
    _check_usage(targets, indicators, where, errors)
    alternatives = _alternatives(raw.get("alternatives") or [], {t.number: t for t in targets}, indicators, where,
                                 errors)
    if errors:
        raise RulebookError(*errors)
    book = Rulebook(year, str(raw["title"]), departments, tuple(categories), tuple(targets),
                    indicators, fingerprint or fingerprint_of(raw), where,
                    issuer=str(raw.get("issuer") or "市环境保护局"), alternatives=tuple(alternatives))
    return Rulebook(**{**book.__dict__, "warnings": tuple(_warnings(book, where))})


def _year(value: object, where: str, errors: list[P.Problem]) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit() and len(text) == 4):
        errors.append(P.make(Code.RULE_YEAR, at=where, value=printable(text)[:40]))
        return 0
    return int(text)


def _number(value: Any, at: str, what: str, errors: list[P.Problem]) -> float | None:
    """A number the rulebook gives (None when absent); text, or a number that is not finite, is an error."""
    if value is None:
        return None
    try:
        number = math.nan if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        errors.append(P.make(Code.RULE_NOT_NUMBER, at=at, what=what, value=printable(str(value))[:40]))
        return None
    return number


def _check_departments(departments: tuple[str, ...], where: str, errors: list[P.Problem]) -> None:
    """Each department names a sheet of the forms: Excel's rules for sheet names hold, and no two are
    the same name as names are compared."""
    seen: dict[str, str] = {}
    for name in departments:
        reason = sheet_name_problem(name)
        if reason:
            errors.append(P.make(Code.RULE_DEPARTMENT_NAME, at=where, department=printable(name)[:60], reason=reason))
        key = name_key(name)
        if key in seen:
            errors.append(P.make(Code.RULE_DEPARTMENT_DUPLICATE, at=where, department=printable(name)[:60],
                                 other=printable(seen[key])[:60]))
        seen.setdefault(key, name)


def _categories(entries: Any, where: str, errors: list[P.Problem]) -> list[Category]:
    out, seen = [], set()
    for entry in entries or []:
        try:
            number = int(entry["number"])
            bonus = bool(entry.get("bonus"))
            points = None if bonus else float(entry["points"])
            out.append(Category(number, str(entry["name"]), points, str(entry.get("note", ""))))
        except (KeyError, TypeError, ValueError):
            errors.append(P.make(Code.RULE_CATEGORY_INCOMPLETE, at=where, entry=repr(entry)[:80]))
            continue
        if number in seen:
            errors.append(P.make(Code.RULE_CATEGORY_DUPLICATE, at=where, number=number))
        seen.add(number)
    return out


def _target(entry: Any, where: str, errors: list[P.Problem], indicators: dict[str, Indicator], departments: tuple[str, ...],
            category_numbers: set[int]) -> Target | None:
    try:
        number = int(entry["number"])
        category = int(entry["category"])
    except (KeyError, TypeError, ValueError):
        errors.append(P.make(Code.RULE_TARGET_INCOMPLETE, at=where, entry=str(entry)[:60]))
        return None
    here = f"{where}：目标{number}"
    if category not in category_numbers:
        errors.append(P.make(Code.RULE_CATEGORY_UNKNOWN, at=here, category=category))
    codes, components = [], []
    for ind_entry in entry.get("indicators") or []:
        indicator = _indicator(ind_entry, number, here, errors, departments)
        if indicator is None:
            continue
        if indicator.code in indicators:
            errors.append(P.make(Code.RULE_CODE_DUPLICATE, at=here, code=indicator.code))
            continue
        indicators[indicator.code] = indicator
        codes.append(indicator.code)
        for comp_entry in ind_entry.get("scoring") or []:
            component = _component(comp_entry, indicator, f"{here}，指标{indicator.code}", errors)
            if component:
                components.append(component)
    if not codes:
        errors.append(P.make(Code.RULE_NO_INDICATORS, at=here))
    points = {key: _number(entry.get(key), here, what, errors)
              for key, what in (("max", "分值（max）"), ("base", "基础分（base）"), ("stated_points", "原文标注分值（stated_points）"))}
    return Target(number, category, str(entry.get("text", "")), str(entry.get("rule", "")), points["max"],
                  points["base"] or 0.0, str(entry.get("note", "")), points["stated_points"],
                  tuple(codes), tuple(components))


def _indicator(entry: Any, target: int, here: str, errors: list[P.Problem], departments: tuple[str, ...]) -> Indicator | None:
    code = str(entry.get("code", "")).strip() if isinstance(entry, dict) else ""
    if not code:
        errors.append(P.make(Code.RULE_CODE_MISSING, at=here))
        return None
    at = f"{here}，指标{code}"
    kind = entry.get("type")
    if kind not in INDICATOR_TYPES:
        errors.append(P.make(Code.RULE_TYPE_UNKNOWN, at=at, type=kind, types=TYPES.labels()))
        return None
    department = str(entry.get("department", ""))
    if department not in departments:
        errors.append(P.make(Code.RULE_DEPARTMENT_UNKNOWN, at=at, department=department))
    options = tuple(str(o) for o in entry.get("options") or [])
    lo, hi = entry.get("min"), entry.get("max")
    if kind == "choice" and len(options) < 2:
        errors.append(P.make(Code.RULE_OPTIONS_FEW, at=at))
    if kind != "choice" and options:
        errors.append(P.make(Code.RULE_OPTIONS_NOT_CHOICE, at=at))
    lo, hi = _bounds(kind, lo, hi, at, errors)
    return Indicator(code, target, department, str(entry.get("label", code)), kind,
                     str(entry.get("unit", "") or ""), lo, hi, options, bool(entry.get("blank_is_zero")))


def _bounds(kind: str, lo: Any, hi: Any, at: str, errors: list[P.Problem]) -> tuple[float | None, float | None]:
    """An indicator's lower and upper bounds, checked against its type."""
    if kind in ("bool", "choice"):
        if lo is not None or hi is not None:
            errors.append(P.make(Code.RULE_BOUNDS_NOT_ALLOWED, at=at, type=TYPES.name(kind)))
        return None, None
    low = _number(lo, at, "下限（min）", errors) or 0.0
    high = _number(hi, at, "上限（max）", errors)
    if kind == "percent":
        high = 1.0 if high is None else high
        if not (0 <= low <= high <= 1):
            errors.append(P.make(Code.RULE_PERCENT_BOUNDS, at=at))
    if low < 0:
        errors.append(P.make(Code.RULE_MIN_NEGATIVE, at=at))
    if high is not None and low > high:
        errors.append(P.make(Code.RULE_MIN_ABOVE_MAX, at=at, min=fmt_number(low), max=fmt_number(high)))
    if kind == "count" and any(v is not None and v != int(v) for v in (low, high)):
        errors.append(P.make(Code.RULE_COUNT_BOUNDS, at=at))
    if kind in ("score", "deduction") and high is None:
        errors.append(P.make(Code.RULE_MAX_REQUIRED, at=at, type=TYPES.name(kind)))
    return low, high


def _component(entry: Any, indicator: Indicator, at: str, errors: list[P.Problem]) -> Component | None:
    name = entry.get("kind") if isinstance(entry, dict) else None
    if name not in KINDS:
        errors.append(P.make(Code.RULE_KIND_UNKNOWN, at=at, kind=name, kinds=KIND_TERMS.labels()))
        return None
    kind, label = KINDS[name], KIND_TERMS.label(name)
    keys = set(entry) - {"kind"}
    missing, unknown = kind.required - keys, keys - kind.required - kind.optional
    if missing:
        errors.append(P.make(Code.RULE_PARAMETER_MISSING, at=at, kind=label, names=PARAMETERS.labels(sorted(missing))))
    if unknown:
        errors.append(P.make(Code.RULE_PARAMETER_UNKNOWN, at=at, kind=label, names=PARAMETERS.labels(sorted(unknown)),
                             allowed=PARAMETERS.labels(parameters_of(name)) or "（没有参数）"))
    if indicator.type not in kind.types:
        errors.append(P.make(Code.RULE_KIND_TYPE, at=at, kind=label, type=TYPES.name(indicator.type),
                             types="、".join(TYPES.name(t) for t in INDICATOR_TYPES if t in kind.types)))
    if missing or unknown or indicator.type not in kind.types:
        return None
    try:
        values = _parameter_values(entry, name, indicator)
    except (ValueError, ZeroDivisionError, TypeError):
        shown = "，".join(f"{PARAMETERS.name(key)}={value}" for key, value in entry.items() if key != "kind")
        errors.append(P.make(Code.RULE_PARAMETER_NUMBER, at=at, kind=label, entry=shown))
        return None
    if values is None:
        errors.append(P.make(Code.RULE_OPTION_POINTS, at=at, kind=label, options="、".join(indicator.options)))
        return None
    for key in ("when", "zero_when"):
        if key in values and values[key] not in ("是", "否"):
            errors.append(P.make(Code.RULE_YES_NO, at=at, key=PARAMETERS.label(key)))
            return None
    not_positive = [key for key in ("block", "step", "of") if values.get(key, 1) <= 0]
    if not_positive:
        errors.append(P.make(Code.RULE_POSITIVE, at=at, names=PARAMETERS.labels(not_positive)))
        return None
    params = kind.params(**values)
    return Component(name, indicator.code, params)


def _parameter_values(entry: Raw, name: str, indicator: Indicator) -> dict[str, Any] | None:
    """The entry's parameters as the kind's dataclass takes them; None when option points do not
    match the indicator's options one by one."""
    values: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "kind":
            continue
        if key in TEXT_PARAMETERS:
            values[key] = str(value)
        elif name == "option" and key == "points":
            if not isinstance(value, dict) or set(map(str, value)) != set(indicator.options):
                return None
            by_option = {str(k): parse_points(v) for k, v in value.items()}
            values[key] = tuple(by_option[o] for o in indicator.options)
        else:
            values[key] = parse_points(value)
    return values


def _alternatives(entries: Any, targets: dict[int, Target], indicators: dict[str, Indicator], where: str,
                  errors: list[P.Problem]) -> list[Alternative]:
    """`alternatives:` — each {name, target, note?, scoring: {code: [component, ...]}} replaces the target's
    components; checked like the rulebook's own."""
    out = []
    for entry in entries if isinstance(entries, list) else [entries]:
        try:
            name, number, scoring = str(entry["name"]), int(entry["target"]), dict(entry["scoring"])
            target = targets[number]
        except (KeyError, TypeError, ValueError):
            errors.append(P.make(Code.RULE_ALTERNATIVE_INCOMPLETE, at=where, entry=printable(str(entry))[:80]))
            continue
        at, components = f"{where}：另一种解读“{name}”", []
        for code, kinds in scoring.items():
            if str(code) not in target.indicators:
                errors.append(P.make(Code.RULE_ALTERNATIVE_CODE, at=where, name=name, code=code, target=number))
                continue
            for comp_entry in kinds or []:
                component = _component(comp_entry, indicators[str(code)], f"{at}，指标{code}", errors)
                if component:
                    components.append(component)
        out.append(Alternative(name, number, tuple(components), str(entry.get("note", ""))))
    return out


def _check_usage(targets: list[Target], indicators: dict[str, Indicator], where: str, errors: list[P.Problem]) -> None:
    used = set()
    for target in targets:
        for component in target.components:
            for code in component.uses():
                if code not in indicators:
                    errors.append(P.make(Code.RULE_REFERENCE_UNKNOWN, at=where, target=target.number, code=code))
                elif indicators[code].target != target.number:
                    errors.append(P.make(Code.RULE_REFERENCE_OTHER, at=where, target=target.number, code=code))
                used.add(code)
    for code, indicator in indicators.items():
        if code not in used:
            errors.append(P.make(Code.RULE_INDICATOR_UNUSED, at=where, target=indicator.target, code=code))


def _warnings(book: Rulebook, where: str) -> list[P.Problem]:
    out = []
    short = dict((target.number, most) for target, most in book.short_of_points())
    for target in book.targets:
        reach = book.reachable_max(target)
        if target.number in short:
            out.append(P.make(Code.RULE_UNREACHABLE, file=where, at=where, target=target.number, points=fmt_number(target.max or 0.0),
                              reach=fmt_number(reach)))
        if target.stated_points is not None and abs(target.stated_points - reach) > 1e-9:
            out.append(P.make(Code.RULE_STATED_POINTS, file=where, at=where, target=target.number,
                              stated=fmt_number(target.stated_points), reach=fmt_number(reach)))
    for category in book.categories:
        if category.bonus:
            continue
        maxima = [t.max for t in book.targets if t.category == category.number]
        if any(m is None for m in maxima):
            out.append(P.make(Code.RULE_UNCAPPED_IN_BASIC, file=where, at=where, category=category.number))
        elif abs(sum(m or 0.0 for m in maxima) - (category.points or 0.0)) > 1e-9:
            out.append(P.make(Code.RULE_CATEGORY_SUM, file=where, at=where, category=category.number, name=category.name,
                              points=fmt_number(category.points or 0.0), total=fmt_number(sum(m or 0.0 for m in maxima))))
    return out


