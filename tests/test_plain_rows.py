"""The ranking table joined row by row prints exactly what rich prints for the same Table: through the real
CLI, and as a property over cells, widths, boxes and terminals; rich renders what cannot be joined."""
import io

import pytest
from hypothesis import given, settings, HealthCheck
from hypothesis import strategies as st
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assess_xl import pipeline
from assess_xl.cli import output
from assess_xl.cli.plain_rows import PlainRowsTable
from assess_xl.rules import load as rulebook_load
from tests.helpers import assess_xl

HEADER = ("排名", "区", "基本分", "加分", "总分", "缺报项数")


def printed(renderable, width: int, terminal: bool) -> str:
    """What `output.console` prints for `renderable` at this width, in a terminal (with colours) or not."""
    file = io.StringIO()
    console = Console(file=file, width=width, force_terminal=terminal, color_system="truecolor" if terminal else None,
                      highlight=False, soft_wrap=True)
    console.print(renderable)
    return file.getvalue()


def rich_table(rows, **options) -> Table:
    table = Table(*HEADER, title="考核排名", **options)
    for row in rows:
        table.add_row(*map(escape, row))
    return table


def joined_table(rows, **options) -> PlainRowsTable:
    return PlainRowsTable(Table(*HEADER, title="考核排名", **options), rows)


def refuse_rich(monkeypatch):
    def by_rich(self, console, options):
        raise AssertionError("the rows were left to rich")
    monkeypatch.setattr(PlainRowsTable, "_by_rich", by_rich)


def test_collect_prints_the_ranking_as_rich_draws_it(tmp_path):
    """The demo year through the real CLI: the ranking block is rich's own Table of the same scores."""
    demo = assess_xl("demo", "-o", tmp_path / "demo")
    assert demo.returncode == 0, demo.stderr
    inbox = tmp_path / "demo" / "2-交回的填报表"
    for columns, environment in ((200, {}), (100, {"FORCE_COLOR": "1"})):
        run = assess_xl("collect", inbox, "-o", tmp_path / "r.xlsx", columns=columns, env=environment)
        assert run.returncode in (0, 1), run.stderr
        book = rulebook_load.load(None)
        totals = pipeline.collect([inbox], book).scores.totals
        expected = printed(rich_table(rows_of(totals)), columns, bool(environment))
        assert expected.count("\n") == len(totals) + 5  # title, top, header, rule, rows, bottom
        assert expected in run.stdout


def rows_of(totals):
    return [[str(row.排名), str(row.Index), output.fmt_number(row.基本分), output.fmt_number(row.加分),
             output.fmt_number(row.总分), str(row.缺报项数) if row.缺报项数 else ""]
            for row in totals.sort_values("排名", kind="stable").itertuples()]


def many_rows(count: int) -> list[list[str]]:
    return [[str(n), f"第{(n * 7919) % count + 1}区", f"{40 + n % 37 * 1.13:.2f}", str(n % 21), f"{100 - n / 50:.2f}",
             "" if n % 9 else str(n % 5 + 1)] for n in range(1, count + 1)]


@pytest.mark.parametrize("terminal", [False, True])
def test_a_thousand_rows_are_joined_not_left_to_rich(monkeypatch, terminal):
    rows = many_rows(1000)
    expected = printed(rich_table(rows), 80, terminal)
    refuse_rich(monkeypatch)
    assert printed(joined_table(rows), 80, terminal) == expected


def test_ranking_table_of_collect_is_joined(monkeypatch):
    """output.ranking_table (what collect prints) joins 3,000 districts' rows, ties kept in their order."""
    import pandas as pd
    count = 3000
    totals = pd.DataFrame({"排名": [n // 2 + 1 for n in range(count)], "基本分": [80 - n / 100 for n in range(count)],
                           "加分": [n % 7 / 10 for n in range(count)], "总分": [90 - n / 97 for n in range(count)],
                           "缺报项数": [n % 4 for n in range(count)]},
                          index=[f"第{(n * 7) % count + 1}区" for n in range(count)])
    expected = printed(rich_table(rows_of(totals)), 80, True)
    refuse_rich(monkeypatch)
    assert printed(output.ranking_table(totals), 80, True) == expected


@pytest.mark.parametrize("width, options", [(40, {}), (80, {"box": box.ASCII}), (80, {"show_lines": True}),
                                            (80, {"padding": (0, 2)}), (80, {"caption": "注"}),
                                            (80, {"show_edge": False}), (80, {"row_styles": ["", "dim"]})])
def test_what_cannot_be_joined_is_left_to_rich(width, options):
    """Cells cut at 40 columns, boxes or padding this module does not join: rich's output, unchanged."""
    rows = many_rows(12) + [["13", "很长的区名" * 8, "1", "2", "3", ""]]
    left_to_rich = []
    original = PlainRowsTable._by_rich

    def by_rich(self, console, render_options):
        left_to_rich.append(True)
        return original(self, console, render_options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PlainRowsTable, "_by_rich", by_rich)
        joined = printed(joined_table(rows, **options), width, False)
    assert joined == printed(rich_table(rows, **options), width, False)
    assert left_to_rich


NAMES = st.one_of(
    st.from_regex(r"第[0-9]{1,4}区", fullmatch=True),
    st.lists(st.sampled_from([*"区县市ＡA b[]/\\:（）é", "\u3000", "\t", ":smile:", "[bold]"]), max_size=12).map("".join),
    st.sampled_from(["高新区（虎丘区）", "a\\", "[/]", "x:thumbs_up:y", "  前导", "后随  ", "很长的区名" * 7, ""]),
)
NUMBERS = st.one_of(st.floats(0, 200, allow_nan=False).map(lambda x: f"{x:.2f}".rstrip("0").rstrip(".")),
                    st.sampled_from(["", "0", "12"]))
ROWS = st.lists(st.tuples(NAMES, NUMBERS, NUMBERS, NUMBERS, NUMBERS), min_size=1, max_size=25)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS, st.sampled_from([30, 60, 80, 120, 250]), st.booleans(),
       st.sampled_from([{}, {"box": box.ROUNDED}, {"box": box.SIMPLE}, {"title": None}]))
def test_joined_rows_print_what_rich_prints(rows, width, terminal, options):
    cells = [[str(n + 1), *row] for n, row in enumerate(rows)]
    table_options = {"title": "考核排名", **options}
    expected = Table(*HEADER, **table_options)
    for row in cells:
        expected.add_row(*map(escape, row))
    assert printed(PlainRowsTable(Table(*HEADER, **table_options), cells), width, terminal) == \
        printed(expected, width, terminal)
