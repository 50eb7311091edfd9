"""One-off helper kept for next year's rulebook: turns the seed's target table and the indicator
catalogue (CSV) into the YAML rulebook skeleton. Components are filled from COMPONENTS below."""
import csv
import sys
from pathlib import Path

import yaml

SEED, CSV, OUT = (Path(p) for p in sys.argv[1:4])

COMPONENTS = {
    "1-1": [{"kind": "award", "points": 1}], "1-2": [{"kind": "award", "points": 1}],
    "2-1": [{"kind": "award", "points": 2}], "2-2": [{"kind": "award", "points": 2}],
    "2-3": [{"kind": "award", "points": 1}], "3-1": [{"kind": "award", "points": 4}],
    "4-1": [{"kind": "award", "points": 2}], "4-2": [{"kind": "award", "points": 6}],
    "4-3": [{"kind": "award", "points": 2}], "5-1": [{"kind": "award", "points": 7}],
    "6-1": [{"kind": "per_unit", "points": -1}],
    "7-1": [{"kind": "award", "points": 2}], "7-2": [{"kind": "per_unit", "points": -4}],
    "7-3": [{"kind": "per_unit", "points": -2}],
    "8-1": [{"kind": "ratio", "points": "5/3"}], "8-2": [{"kind": "ratio", "points": "5/3"}],
    "8-3": [{"kind": "ratio", "points": "5/3"}],
    "9-1": [{"kind": "award", "points": 1}],
    "10-1": [{"kind": "threshold", "at": 2, "points": 2}], "10-2": [{"kind": "gate", "zero_when": "否"}],
    "11-1": [{"kind": "threshold", "at": 2, "points": 2}], "11-2": [{"kind": "gate", "zero_when": "否"}],
    "12-1": [{"kind": "award", "points": 3}], "13-1": [{"kind": "award", "points": 3}],
    "14-1": [{"kind": "entered_score"}],
    "15-1": [{"kind": "entered_deduction"}], "15-2": [{"kind": "entered_deduction"}],
    "16-1": [{"kind": "ratio", "points": 4, "of": 48}],
    "17-1": [{"kind": "gate", "zero_when": "否"}], "17-2": [{"kind": "per_unit", "points": -0.1}],
    "18-1": [{"kind": "per_unit", "points": -0.2}], "18-2": [{"kind": "per_unit", "points": -0.1}],
    "19-1": [{"kind": "per_unit", "points": -0.2}], "19-2": [{"kind": "per_unit", "points": -0.1}],
    "20-1": [{"kind": "per_unit", "points": -0.2}], "20-2": [{"kind": "per_unit", "points": -0.1}],
    "20-3": [{"kind": "per_unit", "points": -0.1}], "20-4": [{"kind": "per_unit", "points": -0.2}],
    "20-5": [{"kind": "per_unit", "points": -0.1}], "20-6": [{"kind": "per_unit", "points": -0.2}],
    "20-7": [{"kind": "per_unit", "points": -0.1}],
    "21-1": [{"kind": "option", "points": {"已落实且完善": 0, "预案不完善": -0.1, "组织未落实或预案未制定": -0.2}}],
    "21-2": [{"kind": "option", "points": {"已建立且完善": 0, "不完善": -0.1, "未建立": -0.2}}],
    "21-3": [{"kind": "award", "when": "否", "points": -0.2}],
    "21-4": [{"kind": "per_unit", "points": -0.5}], "21-5": [{"kind": "per_unit", "points": -0.5}],
    "22-1": [{"kind": "shortfall_steps", "below": 0.8, "step": 0.05, "points": -0.1}],
    "22-2": [{"kind": "gate", "zero_when": "是"}],
    "23-1": [{"kind": "award", "points": 0.5}], "23-2": [{"kind": "award", "points": 0.5}],
    "24-1": [{"kind": "ratio", "points": 1, "zero_below": 0.6}],
    "25-1": [{"kind": "award", "points": 1}],
    "32-1": [{"kind": "award", "points": 2}],
    "33-1": [{"kind": "threshold", "at": 0.8, "points": 1}],
    "34-1": [{"kind": "award", "points": 1}], "35-1": [{"kind": "award", "points": 1}],
    "36-1": [{"kind": "award", "points": 1}],
    "37-1": [{"kind": "entered_score"}],
    "38-1": [{"kind": "per_unit", "points": 0.2, "block": 10}],
    "38-2b": [{"kind": "threshold", "relative_to": "38-2a", "at": 1.1, "points": 1}],
    "38-3": [{"kind": "per_unit", "points": 0.1, "free": 1}],
    "38-4": [{"kind": "per_unit", "points": 1}], "38-5": [{"kind": "per_unit", "points": 2}],
    "38-6": [{"kind": "per_unit", "points": 1}],
    "38-7": [{"kind": "award", "points": 0.5}], "38-8": [{"kind": "award", "points": 0.2}],
}
for code in ["26-1", "26-2"] + [f"27-{i}" for i in range(1, 7)] + [f"28-{i}" for i in range(1, 5)]:
    COMPONENTS[code] = [{"kind": "award", "points": 0.5}]
for code in ["29-1", "29-2", "29-3", "30-1", "30-2", "30-3", "30-4", "31-1"]:
    COMPONENTS[code] = [{"kind": "entered_score"}]

MAXIMA = {1: 2, 2: 6, 3: 4, 4: 10, 5: 8, 6: 4, 7: 6, 8: 5, 9: 1, 10: 2, 11: 2, 12: 3, 13: 3, 14: 3, 15: 3,
          16: 4, 17: 2, 18: 2, 19: 2, 20: 2, 21: 2, 22: 1, 23: 1, 24: 1, 25: 1, 26: 1, 27: 3, 28: 2,
          29: 2, 30: 4, 31: 2, 32: 2, 33: 1, 34: 1, 35: 1, 36: 1, 37: 10, 38: None}
BASES = {6: 4, 7: 4, 15: 3, 17: 2, 18: 2, 19: 2, 20: 2, 21: 2, 22: 1}
STATED = {29: 2, 30: 3, 31: 2}
CATEGORY_POINTS = {7: 6, 8: 4, 9: 3, 10: 3}
TARGET_NOTES = {
    2: "细则各项合计5分而分值为6分：按细则计分，规则检查给出警告。",
    4: "4-1、4-2由生态处填报，4-3由综合处填报。",
    5: "细则仅给7分而分值为8分：按细则计分，规则检查给出警告。",
    6: "第6类分值10分由目标6、7分配为4+6（决定）；目标6基础分4分，每例违规审批扣1分，扣完为止。",
    7: "目标7基础分4分：上报台帐得2分，审批明令禁止项目每个扣4分，未完成区域环评每个扣2分。",
    8: "结案率、到帐率、报表按时上报率各占5/3分，按比例计分，超过100%按100%计。",
    10: "培育2家及以上得2分；未提供当年证明材料则本项为0。",
    11: "完成2家及以上得2分；未提供当年证明材料则本项为0。",
    14: "由监察室评定得分（0–3分）。",
    15: "基础分3分，减去监察室填报的两项扣分。",
    16: "每月4篇×12个月=48篇，按完成比例计分。",
    17: "第13类分值14分在目标17–25间分配为2,2,2,2,2,1,1,1,1（决定）；未完成解缴目标则本项为0。",
    21: "预案、专家库按选项扣0/0.1/0.2分；未组织演练扣0.2分；突发事件每起扣0.5分。",
    22: "达标率低于80%时，每低5个百分点（不足5个百分点按5个百分点计）扣0.1分：75%扣0.1分，74.9%扣0.2分；发现弄虚作假本项为0。",
    24: "全面完成（≥100%）得1分，低于60%不得分，其余按完成比例计分。",
    30: "原文标注(3)分，但各部分合计4分，且第15类分值8分需要4分：按4分计，规则检查给出警告。",
    33: "抽查率达到80%（含）得1分，否则不得分。",
    38: "加分项目不封顶，可不填（空白按0计）：省污染治理资金每满10万元加0.2分；实际征收额达到计划指标110%（含）加1分（计划须大于0）；规划环评第1个以外每个加0.1分。",
}
CATEGORY_NOTES = {
    7: "原表第7、8类共用分值10分：第7类6分，第8类4分（决定）。",
    8: "原表第7、8类共用分值10分：第7类6分，第8类4分（决定）。",
    9: "原表第9、10类共用分值6分：各3分（决定）。",
    10: "原表第9、10类共用分值6分：各3分（决定）。",
    13: "分值14分在目标17–25间分配为2,2,2,2,2,1,1,1,1（决定）。",
    18: "加分项目，不封顶，不计入基本分。",
}
DEPARTMENTS = ["办公室", "综合处", "创模办", "生态处", "开发处", "法规科技处", "机关党委", "监察室", "调研室",
               "环监局", "辐射站", "宣教中心", "信息中心", "局领导"]


def seed_rows(text):
    cells, cur = [], None
    for line in text.split("\n")[1:]:
        if line.startswith("\t"):
            if cur is not None:
                cells.append(cur)
            cur = line.strip()
        elif line.strip():
            cur = (cur or "") + line.strip()
    cells.append(cur)
    return [cells[i:i + 7] for i in range(6, len(cells), 7)]


def main():  # noqa: C901  a one-off converter, kept as it was run
    rows = seed_rows(SEED.read_text(encoding="utf-8"))
    indicators = list(csv.DictReader(CSV.open(encoding="utf-8")))
    categories, targets, category = [], [], None
    for cat_no, cat_name, tgt_no, text, rule, points, _dept in rows:
        if cat_no:
            category = int(cat_no)
            cat = {"number": category, "name": cat_name}
            if category == 18:
                cat["bonus"] = True
            else:
                cat["points"] = CATEGORY_POINTS.get(category) or int(points)
            if category in CATEGORY_NOTES:
                cat["note"] = CATEGORY_NOTES[category]
            categories.append(cat)
        number = int(tgt_no)
        target = {"number": number, "category": category, "text": text, "rule": rule}
        if MAXIMA[number] is not None:
            target["max"] = MAXIMA[number]
        if number in BASES:
            target["base"] = BASES[number]
        if number in STATED:
            target["stated_points"] = STATED[number]
        if number in TARGET_NOTES:
            target["note"] = TARGET_NOTES[number]
        target["indicators"] = []
        for row in indicators:
            if int(row["item"]) != number:
                continue
            ind = {"code": row["code"], "department": row["department"], "label": row["label"],
                   "type": row["type"]}
            if row["unit"] and row["type"] not in ("percent",):
                ind["unit"] = row["unit"]
            if row["type"] in ("score", "deduction", "count", "amount") and row["max"]:
                ind["max"] = float(row["max"]) if "." in row["max"] else int(row["max"])
            if row["options"]:
                ind["options"] = row["options"].split("|")
            if number == 38:
                ind["blank_is_zero"] = True
            ind["scoring"] = COMPONENTS.get(row["code"], [])
            if row["code"] == "38-2a":
                ind["scoring"] = []
            target["indicators"].append(ind)
        targets.append(target)
    book = {"year": 2007, "title": "2007年度各区环保局主要工作目标", "departments": DEPARTMENTS,
            "categories": categories, "targets": targets}
    OUT.write_text("# 2007年度各区环保局主要工作目标考核评分细则（由 tools/seed_to_rulebook.py 生成后人工核对）\n"
                   + yaml.safe_dump(book, allow_unicode=True, sort_keys=False, width=100), encoding="utf-8")


main()
