"""What each district reported, as its sheet says it: made one district at a time (ReportedTexts) as for
every district at once (_reported_text, which the notices use)."""
from types import SimpleNamespace

import pandas as pd

from assess_xl.publish import scorecard as report


def test_one_district_at_a_time_says_what_all_at_once_says(book):
    first, second, third = list(book.indicators)[:3]
    winners = pd.DataFrame({
        "district": ["甲区", "甲区", "乙区", "乙区", "甲区"],
        "code": [first, second, first, third, first],  # 甲区's first twice: the later row stands
        "value": [1.0, float("nan"), 2.0, 0.0, 3.0],
        "valid": [True, False, True, True, True],
        "raw": ["1", "不知道", "2", "0", "3"]})
    read = SimpleNamespace(winners=winners)
    all_at_once = report._reported_text(book, read)
    texts = report.ReportedTexts(book, read)
    for district in ("甲区", "乙区"):
        assert texts.of(district) == {code: text for (where, code), text in all_at_once.items() if where == district}
    assert "“不知道”" in texts.of("甲区")[second]
    assert texts.of("甲区")[first] == report._reported(book.indicators[first], 3.0, True, "3")
    assert texts.of("丙区") == {}
