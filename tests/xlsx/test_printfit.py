"""Row heights: the line counts of wrapped text, measured once per paragraph and not wrapped when its longest
run fits, are those of wrapping every token of every text in turn. The printing fonts: fc-match's."""
import math
import shutil
import subprocess
import sys
import threading

import pytest

from hypothesis import given, settings, strategies as st

from assess_xl.xlsx import printfit


def plain_lines(text: str, width: float, size: float = 10, bold: bool = False) -> int:
    """Every token of every paragraph measured afresh and wrapped by the greedy loop (never skipped: its
    longest run given as infinite), in the printing font and as Excel lays out 宋体."""
    def lines(room, measure) -> int:
        count = 0
        for paragraph in printfit._PARAGRAPH_END.split(text):
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
PIECES = st.sampled_from(["环", "保", "目标", "，", "。", "（", "）", "“", "”", "：", "、", " ", "  ", "\n", "\r", "\r\n",
                          "\u2029", "\x85", "\x1c", "\u3000", "\t",
                          "12.5", "100%", "ISO14000", "W", "m", "i", "-", "+", "abc", "2007", "；", "：", "，", "。", ".",
                          "%", ",", ")", "’", "”"])


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


@settings(max_examples=500, deadline=None)
@given(st.lists(PIECES, max_size=60).map("".join))
def test_a_paragraphs_tokens_are_those_of_its_pieces_one_after_another(text):
    """Tokens are found in each piece of a paragraph (cut after ；，： and the closing punctuation after them,
    which pieces recur across districts' texts): they are the paragraph's tokens, and its widths the tokens'."""
    for paragraph in printfit.paragraphs(text):
        pieces = printfit._PIECE.findall(paragraph)
        assert "".join(pieces) == paragraph
        assert [token for piece in pieces for token in printfit._WORD.findall(piece)] == printfit._WORD.findall(paragraph)
        measured = printfit._paragraph(paragraph, 10, False)
        assert measured.tokens == printfit._WORD.findall(paragraph)
        assert measured.printed == [printfit._printed_width(token, 10, False) for token in measured.tokens]
        assert measured.simsun == [printfit._simsun_width(token, 10) for token in measured.tokens]


FONT_PATTERNS = ["Noto Serif CJK SC:bold", "Noto Serif CJK SC:regular", "Calibri:size=11", "DejaVu Sans Mono",
                 "no such family at all:italic", "宋体"]


@pytest.mark.parametrize("pattern", FONT_PATTERNS)
def test_the_font_asked_of_libfontconfig_is_the_one_fc_match_prints(pattern, tmp_path, monkeypatch):
    """The printing fonts are asked of libfontconfig in this process; the answer is fc-match's, also under a
    configuration of the user's own (FONTCONFIG_FILE, here giving Calibri DejaVu Sans Mono)."""
    if shutil.which("fc-match") is None:
        pytest.skip("fontconfig (fc-match) is not installed")
    for config in (None, mono_calibri(tmp_path)):
        if config is not None:
            monkeypatch.setenv("FONTCONFIG_FILE", str(config))
        printed = subprocess.run(["fc-match", "-f", "%{file}\n%{index}", pattern], capture_output=True, text=True,
                                 check=True).stdout.split("\n")
        asked = subprocess.run([sys.executable, "-c", "import sys; from assess_xl.xlsx import printfit; "
                                "print(*printfit._fontconfig_match(sys.argv[1]), sep=chr(10))", pattern],
                               capture_output=True, text=True, check=True).stdout.split("\n")
        assert asked[:2] == printed[:2], config


def mono_calibri(folder):
    """A fontconfig configuration that includes the system's and gives Calibri as DejaVu Sans Mono."""
    config = folder / "fonts.conf"
    config.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                      '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
                      '<alias binding="strong"><family>Calibri</family><prefer><family>DejaVu Sans Mono</family>'
                      '</prefer></alias></fontconfig>', encoding="utf-8")
    return config


def looped_longest_run(widths: list[float]) -> float:
    """The largest running sum, added left to right one width at a time (0 for none)."""
    used = longest = 0.0
    for width in widths:
        used += width
        if used > longest:
            longest = used
    return longest


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)))
def test_the_longest_run_is_the_looped_running_sum(widths):
    assert printfit._longest_run(widths) == looped_longest_run(widths)


@settings(max_examples=100, deadline=None)
@given(st.lists(PIECES.filter(lambda piece: printfit._PARAGRAPH_END.search(piece) is None), max_size=40), st.sampled_from([(10, False), (10, True), (12, True)]))
def test_widths_known_at_once_are_those_measured_one_by_one(tokens, style):
    size, bold = style
    known: dict[str, float] = {}
    measure = lambda token: printfit._printed_width(token, size, bold)  # noqa: E731
    for _ in range(2):  # measured, then known
        assert printfit._known_widths(tokens, known, measure) == [measure(token) for token in tokens]


def test_widths_known_are_forgotten_past_their_bound(monkeypatch):
    monkeypatch.setattr(printfit, "MOST_KNOWN", 2)
    known: dict[str, float] = {}
    printfit._known_widths(["环", "保", "局"], known, len)
    assert printfit._known_widths(["目标"], known, len) == [2] and known == {"目标": 2}


def test_the_fonts_found_ahead_are_those_asked_for_then(monkeypatch):
    monkeypatch.setattr(printfit, "_AHEAD", {})
    printfit.find_fonts_ahead()
    for pattern in printfit.PRINTING_PATTERNS:
        assert printfit._found_ahead(pattern) == printfit._fontconfig_match(pattern)
    assert not printfit._finding and not printfit._AHEAD  # the thread joined, each answer taken once
    assert not [thread for thread in threading.enumerate() if thread.name == "printing fonts"]


def test_fonts_not_found_ahead_are_asked_for_where_needed(monkeypatch):
    monkeypatch.setattr(printfit, "_AHEAD", {})
    asked = printfit._fontconfig_match
    failing = [True]

    def fails_on_the_thread(pattern):
        if failing[0]:
            raise OSError("libfontconfig went away")
        return asked(pattern)

    monkeypatch.setattr(printfit, "_fontconfig_match", fails_on_the_thread)
    printfit.find_fonts_ahead()
    printfit._finding[0].join()
    failing[0] = False
    assert printfit._found_ahead(printfit.PRINTING_PATTERNS[0]) == asked(printfit.PRINTING_PATTERNS[0])


@pytest.mark.parametrize("separator", ["\n", "\r", "\r\n", "\x85", "\u2029", "\x1c", "\x1d", "\x1e"])
def test_what_the_layout_takes_for_a_paragraph_break_starts_a_line(separator):
    assert printfit.paragraphs(f"违规{separator}审批") == ["违规", "审批"]
    assert printfit.lines_needed(f"违规{separator}审批", 40) == 2


def test_printable_text_is_one_paragraph():
    assert printfit.paragraphs("违规审批项目数：2例") == ["违规审批项目数：2例"] and printfit.paragraphs("") == [""]
