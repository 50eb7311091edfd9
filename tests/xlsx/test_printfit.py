"""Row heights: the line counts of wrapped text, measured once per paragraph and not wrapped when its longest
run fits, are those of wrapping every token of every text in turn."""
import math

from hypothesis import given, settings, strategies as st

from assess_xl.xlsx import printfit


def plain_lines(text: str, width: float, size: float = 10, bold: bool = False) -> int:
    """Every token of every paragraph measured afresh and wrapped by the greedy loop (never skipped: its
    longest run given as infinite), in the printing font and as Excel lays out 宋体."""
    def lines(room, measure) -> int:
        count = 0
        for paragraph in text.split("\n"):
            tokens = printfit._WORD.findall(paragraph)
            count += printfit._lines(tokens, [measure(token) for token in tokens], math.inf, room)
        return count

    printed = lines(7 * width + 5 - printfit.SIDE_PADDING, lambda t: printfit._printed_width(t, size, bold))
    excel = lines(0.75 * (7 * width + 5) - printfit.SIDE_PADDING, lambda t: printfit._simsun_width(t, size))
    return max(printed, excel)


TEXTS = [
    "", "\n", "是", "违规审批项目数：2例\n是否完成：是\n争取省污染治理资金：500万元",
    "缺报：审批国家产业政策和环保政策明令禁止的项目数填写的“1.5”不是整数，本项计0分",
    "通过ISO14000认证（ISO14000）：是；每项加0.5分，最多加2分",
    "a" * 200, "环" * 120, "  前后 空格  \n\n", "2008-01-15T10:30:00+08:00 fingerprint deduction",
]
PIECES = st.sampled_from(["环", "保", "目标", "，", "。", "（", "）", "“", "”", "：", "、", " ", "  ", "\n",
                          "12.5", "100%", "ISO14000", "W", "m", "i", "-", "+", "abc", "2007"])


def test_line_counts_of_known_texts_equal_the_plain_wrapping():
    for text in TEXTS:
        for width in (0.5, 6, 7.5, 10, 14, 34, 40, 90):
            for size, bold in ((10, False), (10, True), (12, True), (14, True)):
                assert printfit.lines_needed(text, width, size, bold) == plain_lines(text, width, size, bold), (
                    text, width, size, bold)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=60).map("".join), st.floats(min_value=0.5, max_value=60),
       st.sampled_from([(10, False), (10, True), (12, True)]))
def test_line_counts_equal_the_plain_wrapping(text, width, style):
    size, bold = style
    assert printfit.lines_needed(text, width, size, bold) == plain_lines(text, width, size, bold)
