"""What changed between two rulebooks, said in Chinese: categories, targets, points, indicators,
departments and scoring components (by their Chinese names; a changed parameter as "分母 48 → 60"
within its component), and which indicators a department must now report that it did not before.
Compares the raw mappings (YAML or workbook alike)."""
from __future__ import annotations

from typing import Any, Callable, Collection

from assess_xl.rules.model import Raw, integral
from assess_xl.rules.terms import KINDS, PARAMETERS, TYPES

CATEGORY_FIELDS = {"name": "名称", "points": "分值", "bonus": "加分类", "note": "说明"}
TARGET_FIELDS = {"category": "所属类别", "text": "目标文字", "rule": "考核细则", "max": "分值", "base": "基础分",
                 "stated_points": "原文标注分值"}
INDICATOR_FIELDS = {"department": "部门", "label": "名称", "type": "类型", "unit": "单位", "min": "下限", "max": "上限",
                    "options": "选项", "blank_is_zero": "空白按0", "target": "所属目标"}


def diff(old: dict[Any, Any], new: dict[Any, Any]) -> list[str]:
    """Every change, one line each; empty when the rules are the same."""
    old, new = integral(old), integral(new)
    lines = _top(old, new)
    lines += _keyed("类别", _by(old.get("categories"), "number"), _by(new.get("categories"), "number"), CATEGORY_FIELDS)
    lines += _keyed("目标", _by(old.get("targets"), "number"), _by(new.get("targets"), "number"), TARGET_FIELDS)
    old_indicators, new_indicators = _indicators(old), _indicators(new)
    lines += _keyed("指标", old_indicators, new_indicators, INDICATOR_FIELDS)
    lines += _scoring(old_indicators, new_indicators)
    lines += _new_duties(old_indicators, new_indicators)
    return lines


def _top(old: dict[Any, Any], new: dict[Any, Any]) -> list[str]:
    lines = []
    for key, label in (("year", "年度"), ("title", "标题"), ("issuer", "发文单位")):
        if old.get(key) != new.get(key):
            lines.append(f"{label}：{_show(old.get(key))} → {_show(new.get(key))}")
    before, after = list(old.get("departments") or []), list(new.get("departments") or [])
    return lines + _added_and_removed("部门", before, after, lambda department: f"：{department}")


def _added_and_removed(what: str, old: Collection[Any], new: Collection[Any], said: Callable[[Any], str]) -> list[str]:
    """新增… for each key only `new` has, then 删除… for each only `old` has, each in its own order."""
    return ([f"新增{what}{said(key)}" for key in new if key not in old]
            + [f"删除{what}{said(key)}" for key in old if key not in new])


def _by(items: Any, key: str) -> dict[Any, Any]:
    return {item.get(key): item for item in items or [] if isinstance(item, dict)}


def _indicators(raw: dict[Any, Any]) -> dict[Any, Any]:
    return {indicator.get("code"): {**indicator, "target": target.get("number")}
            for target in raw.get("targets") or [] for indicator in target.get("indicators") or []}


def _keyed(what: str, old: dict[Any, Any], new: dict[Any, Any], fields: dict[Any, Any]) -> list[str]:
    either = {**old, **new}
    lines = _added_and_removed(what, old, new, lambda key: f"{key}：{_title(either[key])}")
    for key in old.keys() & new.keys():
        for field, label in fields.items():
            before, after = old[key].get(field), new[key].get(field)
            if before != after:
                if field == "type":
                    before, after = TYPES.name(before), TYPES.name(after)
                lines.append(f"{what}{key}的{label}：{_show(before)} → {_show(after)}")
    return lines


def _scoring(old: dict[Any, Any], new: dict[Any, Any]) -> list[str]:
    lines = []
    for code in [code for code in new if code in old]:  # in the new rulebook's order
        added, removed, changed = _matched(old[code].get("scoring") or [], new[code].get("scoring") or [])
        lines += [f"指标{code}的计分方式“{KINDS.name(b.get('kind'))}”：{_changes(b, a)}" for b, a in changed]
        lines += [f"指标{code}新增计分方式：{_component(component)}" for component in added]
        lines += [f"指标{code}删除计分方式：{_component(component)}" for component in removed]
    return lines


def _matched(before: list[Raw], after: list[Raw]) -> tuple[list[Raw], list[Raw], list[tuple[Raw, Raw]]]:
    """Components only in `after`, only in `before`, and pairs of the same kind whose parameters changed
    (paired in order); components in both are left out."""
    gone = [component for component in before if component not in after]
    came = [component for component in after if component not in before]
    changed = []
    for component in list(gone):
        partner = next((other for other in came if other.get("kind") == component.get("kind")), None)
        if partner is not None:
            changed.append((component, partner))
            gone.remove(component)
            came.remove(partner)
    return came, gone, changed


def _changes(before: dict[Any, Any], after: dict[Any, Any]) -> str:
    """"分母 48 → 60，封顶 （无） → 2"; option points per option: "分值（预案不完善） -0.1 → -0.2"."""
    parts = []
    order = list(PARAMETERS.terms)
    keys = sorted((set(before) | set(after)) - {"kind"}, key=lambda k: (order.index(k) if k in order else len(order), k))
    for key in keys:
        old, new = before.get(key), after.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            parts += [f"{PARAMETERS.name(key)}（{option}） {_show(old.get(option))} → {_show(new.get(option))}"
                      for option in {**old, **new} if old.get(option) != new.get(option)]
        elif old != new:
            parts.append(f"{PARAMETERS.name(key)} {_show(old)} → {_show(new)}")
    return "，".join(parts)


def _new_duties(old: dict[Any, Any], new: dict[Any, Any]) -> list[str]:
    duties: dict[str, list[str]] = {}
    for code, indicator in new.items():
        department = indicator.get("department")
        if code not in old or old[code].get("department") != department:
            duties.setdefault(department, []).append(str(code))
    return [f"{department}须新填报的指标：{'、'.join(codes)}" for department, codes in duties.items()]


def _component(component: dict[Any, Any]) -> str:
    """"按比例（分值=4，分母=48）": the kind and its parameters by their Chinese names."""
    parameters = "，".join(f"{PARAMETERS.name(key)}={_show(value)}" for key, value in component.items() if key != "kind")
    kind = KINDS.name(component.get("kind"))
    return f"{kind}（{parameters}）" if parameters else kind


def _title(item: dict[Any, Any]) -> str:
    return str(item.get("name") or item.get("text") or item.get("label") or "")[:40]


def _show(value: Any) -> str:
    if value is None:
        return "（无）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(map(str, value))
    if isinstance(value, dict):
        return "、".join(f"{key}={_show(item)}" for key, item in value.items())
    return str(value)

