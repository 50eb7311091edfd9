"""Many files → one table: the districts of a run, names compared one way, untrusted metadata."""
import hashlib
import io
import json
from datetime import datetime

import openpyxl
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from assess_xl.publish import forms

from assess_xl.read import merge
from assess_xl.demo import fill_workbook
from assess_xl.xlsx.layout import META_SHEET, district_name_problems
from helpers import write_forms
from helpers import read_paths

DISTRICTS = ["高新区（虎丘区）", "姑苏区", "吴中区"]
GOOD = {"开发处": {"6-1": {"高新区（虎丘区）": "2", "姑苏区": "0", "吴中区": "5"}},
        "办公室": {"1-1": {"高新区（虎丘区）": "是", "姑苏区": "否", "吴中区": "是"}},
        "调研室": {"16-1": {"高新区（虎丘区）": "40", "姑苏区": "12", "吴中区": "3"}}}


@pytest.fixture
def inbox(book, tmp_path):
    """Three departments' copies, filled as people fill them, for a district list as real lists write it."""
    blank = write_forms(book, DISTRICTS, tmp_path / "blank")
    folder = tmp_path / "inbox"
    folder.mkdir()
    for department, codes in GOOD.items():
        fill_workbook(blank[department], folder / f"{department}.xlsx", {department: codes})
    return blank, folder


def assert_good_values(result):
    assert result.districts == DISTRICTS
    assert result.values.loc["高新区（虎丘区）", "6-1"] == 2 and result.values.loc["吴中区", "6-1"] == 5
    assert result.values.loc["高新区（虎丘区）", "1-1"] == 1 and result.values.loc["姑苏区", "1-1"] == 0
    assert result.values.loc["姑苏区", "16-1"] == 12


def test_full_width_district_keeps_every_value(book, inbox):
    """The defect of issue 9: a name with full-width brackets lost every value."""
    result = read_paths([inbox[1]], book)
    assert_good_values(result)
    kinds = {p.kind for p in result.problems}
    assert "district_missing" not in kinds and "district_unknown" not in kinds
    missing = [p for p in result.problems if p.kind == "department_missing"]
    assert all("高新区（虎丘区）" not in p.district for p in missing if p.sheet in GOOD)


def test_header_typed_half_width_still_matches(book, inbox, tmp_path):
    """A department retyped the header with half-width brackets and a space: the same district."""
    path = inbox[1] / "开发处.xlsx"
    workbook = openpyxl.load_workbook(path)
    workbook["开发处"]["H3"] = "高新区 (虎丘区)"
    workbook.save(path)
    result = read_paths([inbox[1]], book)
    assert_good_values(result)


def test_explicit_district_list_wins(book, inbox):
    result = read_paths([inbox[1]], book, districts=["高新区(虎丘区)", "姑苏区", "吴中区", "相城区"])
    assert result.values.loc["高新区(虎丘区)", "6-1"] == 2
    assert "相城区" in result.districts and result.values.loc["相城区"].isna().all()


# ---- phantom districts (issue 15, point 2) --------------------------------------------------

def edit_metadata(path, changes: dict, remove: bool = False):
    workbook = openpyxl.load_workbook(path)
    if remove:
        del workbook[META_SHEET]
    else:
        sheet = workbook[META_SHEET]
        for row in sheet.iter_rows(max_col=2):
            if row[0].value in changes:
                row[1].value = changes.pop(row[0].value)
        for key, value in changes.items():
            sheet.append([key, value])
    workbook.save(path)


def hostile_copy(blank, inbox, name, districts_meta=None, remove_meta=False, extra_column=None):
    path = inbox / name
    fill_workbook(blank["综合处"], path, {"综合处": {"2-1": {"姑苏区": "是"}}})
    if extra_column:
        workbook = openpyxl.load_workbook(path)
        sheet = workbook["综合处"]
        sheet.cell(3, sheet.max_column + 1, extra_column)
        sheet.cell(4, sheet.max_column, "是")
        workbook.save(path)
    if districts_meta is not None or remove_meta:
        edit_metadata(path, {"districts": districts_meta} if districts_meta is not None else {}, remove=remove_meta)
    return path


def unchanged(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.mark.parametrize("case", ["extra_in_metadata", "no_metadata_extra_column", "not_a_form_with_metadata"])
def test_one_sender_cannot_add_a_district(book, inbox, case):
    blank, folder = inbox
    if case == "extra_in_metadata":
        hostile_copy(blank, folder, "hostile.xlsx", json.dumps(DISTRICTS + ["幽灵区"], ensure_ascii=False))
    elif case == "no_metadata_extra_column":
        hostile_copy(blank, folder, "hostile.xlsx", remove_meta=True, extra_column="备注")
    else:
        workbook = openpyxl.Workbook()
        workbook.active.title = "随便"
        meta = workbook.create_sheet(META_SHEET)
        for key, value in forms.metadata(book, DISTRICTS + ["幽灵区"], ["办公室"], datetime(2007, 1, 1)).items():
            meta.append([key, value])
        workbook.save(folder / "hostile.xlsx")
    before = unchanged(folder)
    result = read_paths([folder], book)
    assert unchanged(folder) == before
    assert_good_values(result)
    assert "幽灵区" not in result.districts and "备注" not in result.districts
    assert [p for p in result.problems if p.file == "inbox/hostile.xlsx"]


def test_tied_district_lists_keep_only_the_common_districts(book, tmp_path):
    one = write_forms(book, ["甲区", "乙区"], tmp_path / "a")
    two = write_forms(book, ["甲区", "丙区"], tmp_path / "b")
    folder = tmp_path / "inbox"
    folder.mkdir()
    fill_workbook(one["办公室"], folder / "a.xlsx", {"办公室": {"1-1": {"甲区": "是", "乙区": "是"}}})
    fill_workbook(two["开发处"], folder / "b.xlsx", {"开发处": {"6-1": {"甲区": "1", "丙区": "2"}}})
    result = read_paths([folder], book)
    assert result.districts == ["甲区"]
    assert "districts_disagree" in {p.kind for p in result.problems}


# ---- metadata is untrusted (issue 15, point 3) ----------------------------------------------

@pytest.mark.parametrize("changes", [
    {"districts": "not json ["}, {"districts": "42"}, {"districts": "[1, 2]"},
    {"districts": json.dumps(["姑苏区\x07", "吴中区"])}, {"districts": json.dumps(["甲区"] * 3)},
    {"codes:综合处": "[[\"2-1\"]]"}, {"codes:综合处": "{}"}, {"fingerprint": "[1]"},
])
def test_bad_metadata_is_that_files_problem(book, inbox, changes):
    blank, folder = inbox
    path = hostile_copy(blank, folder, "hostile.xlsx")
    edit_metadata(path, dict(changes))
    result = read_paths([folder], book)
    assert_good_values(result)
    assert all("\x07" not in d for d in result.districts)
    assert [p for p in result.problems if p.file == "inbox/hostile.xlsx"]


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2999-01-01T00:00:00Z"])
def test_implausible_saved_time_cannot_win_a_conflict(book, inbox, stamp):
    from helpers import set_saved_time
    blank, folder = inbox
    path = folder / "开发处-旧.xlsx"
    fill_workbook(blank["开发处"], path, {"开发处": {"6-1": {"姑苏区": "9"}}})
    set_saved_time(path, stamp, mtime=1_000_000_000)  # 2001: older than the real return
    result = read_paths([folder], book)
    assert result.values.loc["姑苏区", "6-1"] == 0  # the real, later return wins
    assert "saved_time_implausible" in {p.kind for p in result.problems if p.file.endswith("开发处-旧.xlsx")}


# ---- the round trip as a property (issue 9, point 1) -----------------------------------------

NAME_PARTS = st.sampled_from(["高新区", "虎丘区", "工业园区", "（", "）", "(", ")", "·", "-", "—", "_", " ", "\u3000",
                              "Ａ", "a", "B", "１", "2", "#", "&", "@", "=", "+", "'", "\"", "/", "\\", ":", "*",
                              "?", "[", "]", "{", "}", "<", ">", "%", "区", "县", "新", "市", "镇"])
NAMES = st.lists(NAME_PARTS, min_size=1, max_size=16).map("".join)


@given(st.lists(NAMES, min_size=1, max_size=4))
@settings(max_examples=int(__import__("os").environ.get("NAME_EXAMPLES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_round_trip_returns_every_value_to_its_district(book, tmp_path_factory, names):
    assume(not district_name_problems(names))
    folder = tmp_path_factory.mktemp("names")
    form = forms.build_workbook(book, names, ["开发处"], None, datetime(2007, 12, 1))
    typed = {name: str(n + 1) for n, name in enumerate(names)}
    fill_workbook(io.BytesIO(form).getvalue(), folder / "开发处.xlsx", {"开发处": {"6-1": typed}})
    result = read_paths([folder], book)
    assert result.districts == names
    for n, name in enumerate(names):
        assert result.values.loc[name, "6-1"] == n + 1
    assert not [p for p in result.problems if p.kind.startswith("district_")]


def test_read_back_frame_has_the_named_columns(book, inbox):
    result = read_paths([inbox[1]], book)
    assert set(merge.FRAME_COLUMNS) <= set(result.winners.columns)
    assert list(result.values.columns) == list(book.indicators) and result.values.index.name == "区"


# ---- the merging steps at scale: whole columns, the same problems ---------------------------------------

RECORDS = st.lists(st.fixed_dictionaries({
    "district": st.sampled_from(DISTRICTS + ["别的区"]), "code": st.sampled_from(["1-1", "6-1", "16-1", "38-1", "14-1"]),
    "value": st.one_of(st.none(), st.floats(-5, 5, allow_nan=False)), "raw": st.text(max_size=3),
    "blank": st.booleans(), "valid": st.booleans(), "file": st.sampled_from(["a.xlsx", "b.xlsx"]),
    "sheet": st.just("办公室"), "cell": st.just("C4"), "order": st.integers(0, 3)}), max_size=30)


def as_sheets(rows, size):
    """Records as merge_files collects them: one dict of columns per sheet of `size` records."""
    sheets = [rows[i:i + size] for i in range(0, len(rows), size)]
    return [{column: [row[column] for row in sheet] for column in merge.FRAME_COLUMNS} for sheet in sheets]


@settings(max_examples=60, deadline=None)
@given(RECORDS, st.integers(1, 7))
def test_records_frame_is_what_pandas_infers_and_converts(rows, size):
    import pandas as pd
    records = as_sheets(rows, size)
    inferred = pd.DataFrame({column: [x for settled in records for x in settled[column]] for column in merge.FRAME_COLUMNS})
    expected = inferred.astype({"value": float, "blank": bool, "valid": bool, "order": int})
    pd.testing.assert_frame_equal(merge._records_frame(records), expected)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RECORDS, st.integers(1, 7))
def test_unsupplied_departments_are_those_without_any_record_of_a_district(book, rows, size):
    """One problem per department with required codes, naming in the run's order each district no record of
    that department's required codes reached (blank or not); nothing for a department that reached all."""
    frame = merge._records_frame(as_sheets(rows, size))
    found = {(p.sheet, p.district) for p in merge._unsupplied(frame, book, DISTRICTS)}
    assert merge._unsupplied(merge.with_positions(frame, DISTRICTS, book), book, DISTRICTS) == \
        merge._unsupplied(frame, book, DISTRICTS)
    supplied = set(zip(frame["district"], frame["code"]))
    expected = set()
    for department in book.departments:
        codes = [i.code for i in book.department_indicators(department) if not i.blank_is_zero]
        lacking = [d for d in DISTRICTS if codes and not any((d, c) in supplied for c in codes)]
        if lacking:
            expected.add((department, "、".join(lacking)))
    assert found == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RECORDS, st.integers(1, 7), st.booleans())
def test_merged_values_are_the_winners_pivoted(book, rows, size, strict):
    """merge's district × code table: each usable winner's value in its place, as pivot and reindex lay it out."""
    import pandas as pd
    frame = merge._records_frame(as_sheets(rows, size))
    values, winners, _ = merge.merge(frame, book, DISTRICTS, strict, [])
    usable = winners[winners["valid"]]
    expected = (usable.pivot(index="district", columns="code", values="value").astype(float)
                .reindex(index=DISTRICTS, columns=list(book.indicators)))
    expected.index.name, expected.columns.name = "区", None
    pd.testing.assert_frame_equal(values, expected)


def merge_by_pandas_join(frame, book, districts, strict, reports):
    """merge as it was written with pandas' groupby and join: the reference the array version must equal."""
    import numpy as np
    import pandas as pd
    key = ["district", "code"]
    filled = frame[~frame["blank"]].sort_values("order", kind="stable").reset_index(drop=True)
    filled["_row"] = np.arange(len(filled))
    winners = filled.groupby(key, sort=False).tail(1)
    joined = filled.merge(winners[key + ["_row", "value", "raw", "valid", "file", "sheet", "cell", "order"]],
                          on=key, suffixes=("", "_w"))
    joined = joined[joined["_row"] != joined["_row_w"]]
    both_valid = joined["valid"] & joined["valid_w"]
    differing = joined[np.where(both_valid, (joined["value"] - joined["value_w"]).abs() > 1e-9,
                                joined["raw"] != joined["raw_w"])]
    tied = differing["order"] == differing["order_w"]
    rows = [dict(zip(merge.CONFLICT_FIELDS, row)) for row in
            zip(*(differing[column].tolist() for column in merge.CONFLICT_FIELDS))]
    problems = [merge._conflict(row, strict, tie, book) for row, tie in zip(rows, tied.tolist())]
    superseded = differing[~tied]["file"].value_counts().to_dict()
    for report in reports:
        report.superseded = int(superseded.get(report.info.name, 0))
    disputed = differing[tied | ~(differing["valid_w"] & ~differing["valid"])]
    contested = disputed if strict else differing[tied]
    if len(contested):
        unsettled = pd.MultiIndex.from_frame(contested[key].drop_duplicates())
        winners = winners[~pd.MultiIndex.from_frame(winners[key]).isin(unsettled)]
    values = merge.value_table(winners[winners["valid"]], districts, list(book.indicators))
    problems.extend(merge._blank_problems(frame, filled, book))
    return values, winners.drop(columns="_row").reset_index(drop=True), problems


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RECORDS, st.integers(1, 7), st.booleans(), st.sampled_from([None, DISTRICTS, [*DISTRICTS, "别的区"]]))
def test_merge_on_arrays_gives_what_the_pandas_join_gave(book, rows, size, strict, positions):
    """Winners, values, conflicts, ties, corrections and 缺报 (and each file's superseded count) as the merge
    written with groupby and a join found them, in the same order; with the records' positions worked out
    before (for the run's districts, every record's or not) or not."""
    import pandas as pd
    from assess_xl.read import gather
    from pathlib import Path
    districts = positions or DISTRICTS
    frame = merge._records_frame(as_sheets(rows, size))
    given = frame if positions is None else merge.with_positions(frame, districts, book)
    reports = [merge.FileReport(gather.FileInfo(Path(name), name)) for name in ("a.xlsx", "b.xlsx")]
    expected_reports = [merge.FileReport(gather.FileInfo(Path(name), name)) for name in ("a.xlsx", "b.xlsx")]
    values, winners, problems = merge.merge(given, book, districts, strict, reports)
    expected_values, expected_winners, expected_problems = merge_by_pandas_join(frame, book, districts, strict,
                                                                                expected_reports)
    pd.testing.assert_frame_equal(values, expected_values)
    pd.testing.assert_frame_equal(winners.drop(columns=[c for c in merge.POSITIONS if c in winners]), expected_winners)
    assert problems == expected_problems
    assert [r.superseded for r in reports] == [r.superseded for r in expected_reports]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RECORDS, st.integers(1, 7))
def test_supply_names_the_file_of_each_departments_latest_winner(book, rows, size):
    """department × district: the file of the last winner (by order, then as listed) of a department's codes."""
    import numpy as np
    frame = merge._records_frame(as_sheets(rows, size))
    supply = merge._supply(frame, book, DISTRICTS)
    assert supply.equals(merge._supply(merge.with_positions(frame, DISTRICTS, book), book, DISTRICTS))
    departments = [d for d in book.departments if book.department_indicators(d)]
    expected = np.full((len(departments), len(DISTRICTS)), "", dtype=object)
    latest = frame.sort_values("order", kind="stable")
    for code, district, file in zip(latest["code"], latest["district"], latest["file"]):
        department = book.indicators[code].department
        if department in departments and district in DISTRICTS:
            expected[departments.index(department), DISTRICTS.index(district)] = file
    assert list(supply.index) == departments and list(supply.columns) == DISTRICTS
    assert (supply.to_numpy() == expected).all()


@pytest.mark.parametrize("keys", [["甲区", "乙区", "丙区"], ["甲区", "别的区", "丙区"], ["别的区"], []])
def test_a_sheets_cells_are_settled_as_one_record_per_code_and_district_column(keys):
    """A sheet's read holds each input cell once and each code once (in the order read); settled, every
    cell becomes a record with its district, code, file, sheet and order; columns of other districts drop out."""
    from assess_xl.read.form import DistrictColumns, SheetRead
    codes = ["6-1", "7-1"]
    cells = [(code, key, n) for n, (code, key) in enumerate((c, k) for c in codes for k in keys)]
    records = {"value": [float(n) for *_, n in cells], "raw": [str(n) for *_, n in cells],
               "blank": [n % 2 == 0 for *_, n in cells], "valid": [True for _ in cells], "cell": [f"H{n}" for *_, n in cells]}
    columns = DistrictColumns(keys, keys, [f"H{n}" for n in range(len(keys))], [True] * len(keys))
    sheet = SheetRead("开发处", "开发处", columns, records, [], None, codes)
    index = {"甲区": "甲区", "乙区": "乙区", "丙区": "丙区"}
    settled, _ = merge._settle(sheet, index, 3, "a.xlsx")
    kept = [(code, key, n) for code, key, n in cells if key in index]
    assert settled == {"value": [float(n) for *_, n in kept], "raw": [str(n) for *_, n in kept],
                       "blank": [n % 2 == 0 for *_, n in kept], "valid": [True for _ in kept],
                       "cell": [f"H{n}" for *_, n in kept], "district": [key for _, key, _ in kept],
                       "code": [code for code, _, _ in kept], "file": ["a.xlsx"] * len(kept),
                       "sheet": ["开发处"] * len(kept), "order": [3] * len(kept)}
