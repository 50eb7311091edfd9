"""What a change of rules would have done: the same returns scored under the old and the new rulebook
where the codes allow, per district the old and new totals and ranks, the shift, and the targets that
caused it. Indicators new in the new rulebook are listed as not available in the old returns (their
targets count as 缺报 under the new rules). Takes frames, returns frames and a workbook."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from assess_xl.score import scoring
from assess_xl.rules.components import fmt_number
from assess_xl.xlsx.style import MemoryWorkbook, print_setup, styles
from assess_xl.rules.model import Rulebook
from assess_xl.score.scoring import Scores
from assess_xl.rules.terms import TYPES

IMPACT, TARGETS, NOTES = "影响", "目标变化", "说明"


@dataclass
class Replay:
    summary: pd.DataFrame  # district → 原总分, 原排名, 新总分, 新排名, 总分变化, 排名变化, 影响的目标
    targets: pd.DataFrame  # one row per (district, target) whose score changed
    not_available: list[str]  # codes of the new rulebook the old returns do not hold
    dropped: list[str]  # codes of the old rulebook the new one no longer asks for
    adjusted: list[str] = field(default_factory=list)  # which totals include the coordinator's adjustments


def changed_indicators(old: Rulebook, new: Rulebook) -> dict[str, str]:
    """Code → why values typed under `old` cannot stand for it under `new` (new, dropped, retyped, other
    options). Every other code means the same in both: replay scores it, the prefill of next year's forms
    carries it over."""
    out = {}
    for code, indicator in new.indicators.items():
        was = old.indicators.get(code)
        if was is None:
            out[code] = "新增指标，原细则没有此编号"
        elif was.type != indicator.type:
            out[code] = f"类型由{TYPES.name(was.type)}改为{TYPES.name(indicator.type)}"
        elif was.options != indicator.options:
            out[code] = "选项不同"
    out.update({code: "新细则不再有此编号" for code in old.indicators if code not in new.indicators})
    return out


def replay(old: Rulebook, new: Rulebook, values: pd.DataFrame, adjustments: list[dict[str, Any]] | None = None,
           adjustments_file: str = "") -> Replay:
    """`values`: district × old codes, as read back from the returns (with the coordinator's `adjustments`,
    the records of 调整记录, already applied when an adjustments workbook was given)."""
    changed = changed_indicators(old, new)
    comparable = [c for c in new.indicators if c not in changed]
    new_values = scoring.empty_values(new, list(values.index))
    new_values[comparable] = values[comparable].to_numpy()
    before, after = scoring.score(values, old), scoring.score(new_values, new)
    summary = pd.DataFrame({
        "原总分": before.totals["总分"], "原排名": before.totals["排名"],
        "新总分": after.totals["总分"], "新排名": after.totals["排名"],
    })
    summary["总分变化"] = (summary["新总分"] - summary["原总分"]).round(2)
    summary["排名变化"] = summary["原排名"] - summary["新排名"]
    targets = _target_changes(old, new, before, after)
    summary["影响的目标"] = [_causes(targets, district) for district in summary.index]
    summary.index.name = "区"
    return Replay(summary, targets, [c for c in new.indicators if c not in comparable],
                  [c for c in old.indicators if c not in new.indicators],
                  _adjusted(adjustments, adjustments_file, changed) if adjustments is not None else [])


def _adjusted(records: list[dict[str, Any]], file_name: str, changed: dict[str, str]) -> list[str]:
    """Which totals include the adjustments: the old ones all of them, the new ones those whose code means
    the same under the new rules."""
    if not records:
        return [f"调整表（{file_name}）中没有采用的调整，原总分和新总分都不含复核调整。"]
    left_out = [f"{r['区']} {r['编号']}（{changed[r['编号']]}）" for r in records if r["编号"] in changed]
    lines = [f"原总分含调整表（{file_name}）中全部{len(records)}项复核调整。"]
    if left_out:
        lines.append(f"新总分含其中{len(records) - len(left_out)}项；不含：{'、'.join(left_out)}。")
    else:
        lines.append(f"新总分同样含这{len(records)}项复核调整。")
    return lines


def _target_changes(old: Rulebook, new: Rulebook, before: Scores, after: Scores) -> pd.DataFrame:
    rows = []
    numbers = sorted({t.number for t in old.targets} | {t.number for t in new.targets})
    for district in before.totals.index:
        for number in numbers:
            was = float(before.targets.loc[district, number]) if number in before.targets.columns else 0.0
            now = float(after.targets.loc[district, number]) if number in after.targets.columns else 0.0
            if abs(was - now) > 1e-9:
                rows.append({"区": district, "目标": number, "原得分": was, "新得分": now, "变化": round(now - was, 2)})
    return pd.DataFrame(rows, columns=["区", "目标", "原得分", "新得分", "变化"])


def _causes(changed: pd.DataFrame, district: str) -> str:
    mine = changed[changed["区"] == district]
    return "、".join(f"目标{int(n)}（{'+' if d > 0 else ''}{fmt_number(d)}）" for n, d in zip(mine["目标"], mine["变化"]))


def workbook(result: Replay, old: Rulebook, new: Rulebook) -> bytes:
    book = MemoryWorkbook()
    house = styles(book)
    header, text, number = house["list_header_wrap"], house["list_text"], house["list_number"]
    ws = book.add_worksheet(IMPACT)
    headers = ["区", *result.summary.columns]
    for col, title in enumerate(headers):
        ws.write_string(0, col, title, header)
    for r, (district, row) in enumerate(result.summary.sort_values("新排名", kind="stable").iterrows(), start=1):
        ws.write_string(r, 0, str(district), text)
        for col, key in enumerate(result.summary.columns, start=1):
            value = row[key]
            if isinstance(value, str):
                ws.write_string(r, col, value, text)
            else:
                ws.write_number(r, col, float(value), number)
    ws.set_column(0, 0, 14)
    ws.set_column(1, 6, 9)
    ws.set_column(7, 7, 60)
    ws.freeze_panes(1, 1)
    print_setup(ws, (0, 0))
    targets = book.add_worksheet(TARGETS)
    for col, title in enumerate(result.targets.columns):
        targets.write_string(0, col, title, header)
    for r, row in enumerate(result.targets.itertuples(index=False), start=1):
        targets.write_string(r, 0, str(row[0]), text)
        for col, value in enumerate(row[1:], start=1):
            targets.write_number(r, col, float(value), number)
    notes = book.add_worksheet(NOTES)
    lines = [f"原细则：{old.title}（指纹 {old.fingerprint}）", f"新细则：{new.title}（指纹 {new.fingerprint}）",
             "同一编号、同一类型的指标按交回的数值在两份细则下分别计分。", *result.adjusted]
    if result.not_available:
        lines.append(f"新细则新增的指标在原填报表中没有数据，按缺报计：{'、'.join(result.not_available)}")
    if result.dropped:
        lines.append(f"新细则不再使用的指标：{'、'.join(result.dropped)}")
    notes.set_column(0, 0, 110)
    for r, line in enumerate(lines):
        notes.write_string(r, 0, line, text)
    return book.content()
