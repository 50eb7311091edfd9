"""The rulebook's words in the coordinator's language: one table per vocabulary (scoring component
kinds, their parameters, indicator types), each English key (as the YAML writes it) with its Chinese
name, what it means and an example. The same table translates both ways: the workbook and `rules diff`
show the Chinese names, and reading a workbook accepts the Chinese names or the English keys (older
workbooks wrote the English ones)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from assess_xl.xlsx.layout import name_key


@dataclass(frozen=True)
class Term:
    name: str  # the Chinese name a coordinator reads and types
    meaning: str
    example: str


class Vocabulary:
    """One vocabulary: English key ↔ Chinese name, looked up either way."""

    def __init__(self, what: str, terms: dict[str, Term]):
        self.what = what
        self.terms = terms
        self._keys = {name_key(term.name): key for key, term in terms.items()}
        self._keys.update({name_key(key): key for key in terms})
        assert len(self._keys) == 2 * len(terms), f"{what}: a Chinese name is used twice or clashes with a key"

    def name(self, key: object) -> str:
        """The Chinese name of a key; anything unknown is shown as it is."""
        term = self.terms.get(key) if isinstance(key, str) else None
        return term.name if term else str(key)

    def key(self, written: object) -> str | None:
        """The English key of what a coordinator wrote (the Chinese name or the key itself); None if unknown."""
        return self._keys.get(name_key(written))

    def names(self) -> list[str]:
        return [term.name for term in self.terms.values()]

    def label(self, key: object) -> str:
        """“按比例”（ratio）: for messages read by workbook and YAML editors alike."""
        return f"“{self.name(key)}”（{key}）" if key in self.terms else f"“{key}”"

    def labels(self, keys: Iterable[object] | None = None) -> str:
        """Several labels (by default every one, in the table's order) for a message."""
        return "、".join(self.label(key) for key in (self.terms if keys is None else keys))


KINDS = Vocabulary("计分方式", {
    "award": Term("是否得分", "是/否类指标：答“是”（或“得分条件”所写的答案）时得“分值”分，否则不得分。",
                  "目标3：分值4 → 答“是”得4分"),
    "per_unit": Term("每项加减分", "数量、金额类指标：每一项（或每满“每满”所写的数）加“分值”分，分值为负数即扣分；"
                                   "超过“起点”的部分才计；“封顶”限制加减的总分。",
                     "目标6：分值-1 → 违规审批2例扣2分；目标38：分值0.2、每满10 → 投入35万元加0.6分"),
    "ratio": Term("按比例", "比率、数量、金额类指标：得分 = 分值 × 指标值 ÷ 分母，最多得“分值”分；低于“不得分线”不得分。",
                  "目标16：分值4、分母48 → 发稿36篇得3分"),
    "threshold": Term("达标得分", "指标值达到“门槛”时得“分值”分；写了“对比指标”时，比较的是本指标 ÷ 对比指标（对比指标须大于0）。",
                      "目标10：门槛2、分值2 → 完成2家及以上得2分；目标38：对比指标38-2a、门槛1.1 → 达到计划的110%加1分"),
    "shortfall_steps": Term("不足按档扣分", "比率等指标低于“标准线”时，每差一档（“每档”，不足一档按一档计）加“分值”分，"
                                         "分值写负数即扣分。",
                            "目标22：标准线0.8、每档0.05、分值-0.1 → 75%扣0.1分，74.9%扣0.2分"),
    "option": Term("按选项", "选项类指标：选中哪个选项就得（扣）该选项的分；“分值”每行写“选项=分值”，每个选项一行。",
                   "目标21：分值写三行“已落实且完善=0”“预案不完善=-0.1”“组织未落实或预案未制定=-0.2”"),
    "gate": Term("否决", "是/否类指标：答案为“否决条件”所写的答案时，整个目标得0分（先于其他计分方式）。",
                 "目标10：否决条件“否” → 10-2答“否”则目标10得0分"),
    "entered_score": Term("部门评分", "得分类指标：直接采用部门评定的分数（不超过指标的上限）；没有参数。",
                          "目标14：部门评定2.5分，即得2.5分"),
    "entered_deduction": Term("部门扣分", "扣分类指标：从基础分中减去部门评定的扣分；没有参数。",
                              "目标15：基础分3，部门扣0.5分 → 得2.5分"),
})

# In the order of the 计分 sheet's columns.
PARAMETERS = Vocabulary("参数", {
    "points": Term("分值", "得（扣）多少分，负数为扣分，可写分数如5/3。是否得分、达标得分：得多少分；每项加减分、"
                          "不足按档扣分：每项、每档多少分；按比例：满分；按选项：每行写“选项=分值”。", "4；-0.5；5/3"),
    "when": Term("得分条件", "是否得分：答什么时得分，填“是”或“否”；不填即“是”。", "是"),
    "of": Term("分母", "按比例：指标值达到多少时得满分；不填即1（比率类即100%）。", "48（每月4篇×12个月）"),
    "zero_below": Term("不得分线", "按比例：指标值低于此数时不得分（比率写小数，60%写0.6）；可不填。", "0.6"),
    "at": Term("门槛", "达标得分：指标值达到此数即得分（比率写小数，80%写0.8；有对比指标时是两者之比，110%写1.1）。",
               "2；0.8；1.1"),
    "relative_to": Term("对比指标", "达标得分：与哪个指标相比（填指标编号，须属于同一目标且大于0）；可不填。", "38-2a"),
    "block": Term("每满", "每项加减分：每满多少算一项（如每满10万元）；不填即1。", "10"),
    "free": Term("起点", "每项加减分：超过此数的部分才计分；不填即0。", "1（第一项不计分）"),
    "limit": Term("封顶", "每项加减分：最多加（扣）多少分；不填即不限。", "2"),
    "below": Term("标准线", "不足按档扣分：低于此数才扣分（比率写小数，80%写0.8）。", "0.8"),
    "step": Term("每档", "不足按档扣分：每差多少算一档，不足一档按一档计（5个百分点写0.05）。", "0.05"),
    "zero_when": Term("否决条件", "否决：答什么时整个目标得0分，填“是”或“否”。", "否"),
})

TYPES = Vocabulary("类型", {
    "bool": Term("是/否", "填“是”或“否”。", "是"),
    "count": Term("数量", "0及以上的整数，单位写在“单位”列。", "3"),
    "percent": Term("比率", "百分数；填报表中85%存为0.85，上下限也写小数（1即100%）。", "85%"),
    "amount": Term("金额", "0及以上的数，单位默认万元。", "35.5"),
    "score": Term("得分", "部门评定的得分；须写上限。", "2.5"),
    "deduction": Term("扣分", "部门评定的扣分；须写上限。", "0.5"),
    "choice": Term("选项", "从“选项”列所列的选项中选一个；至少两个选项。", "预案不完善"),
})
