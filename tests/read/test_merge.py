"""Many files → one table: the districts of a run, names compared one way, untrusted metadata."""
import hashlib
import io
import json
import math
from array import array
from datetime import datetime
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from assess_xl.publish import forms

from assess_xl import problems as P
from assess_xl.read import merge
from assess_xl.read.cells import refusal
from assess_xl.read.records import FRAME_COLUMNS, text_dtype
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
    assert set(FRAME_COLUMNS) <= set(result.winners.columns)
    assert list(result.values.columns) == list(book.indicators) and result.values.index.name == "区"


# ---- the merging steps at scale: whole columns, the same problems ---------------------------------------

CODES = ["1-1", "6-1", "16-1", "38-1", "14-1"]
CELL_FIELDS = ("district", "code", "value", "raw", "blank", "valid", "cell")
CELL = st.fixed_dictionaries({
    "district": st.sampled_from(DISTRICTS), "code": st.sampled_from(CODES),
    "value": st.one_of(st.just(math.nan), st.floats(-5, 5, allow_nan=False)), "raw": st.text(max_size=3),
    "blank": st.booleans(), "valid": st.booleans(), "cell": st.sampled_from(["C4", "D5"])})
SHEETS = st.lists(st.tuples(st.sampled_from(["a.xlsx", "b.xlsx"]), st.integers(0, 3), st.lists(CELL, max_size=8)),
                  max_size=5)  # (file, order, cells) of each sheet, cells in any (district, code) at all


def as_records(sheets, districts, codes=None):
    """The sheets as merge_files lays them out (records.records_of), each cell's district and code as positions."""
    from assess_xl.read.form import NO_COLUMNS, Cells, SheetRead
    from assess_xl.read.records import Placed, Placing, records_of
    codes = codes or list(merge_book().indicators)
    at = {district: n for n, district in enumerate(districts)}
    code_at = {code: n for n, code in enumerate(codes)}
    placed = []
    for n, (file, order, cells) in enumerate(sheets):
        column = {name: [cell[name] for cell in cells] for name in CELL_FIELDS}
        sheet = SheetRead("办公室", f"表{n}", NO_COLUMNS, Cells(array("d", column["value"]), column["raw"],
                          bytearray(column["blank"]), bytearray(column["valid"]), column["cell"]), [])
        placing = Placing(None, np.array([at[d] for d in column["district"]], dtype=np.int64),
                          np.array([code_at[c] for c in column["code"]], dtype=np.int64), True)
        placed.append(Placed(sheet, file, order, placing))
    return records_of(placed, districts, codes)


def as_frame(sheets):
    """The sheets' cells as one frame in the order given, as pandas infers it from lists (the merge's reference)."""
    rows = [{**cell, "file": file, "sheet": f"表{n}", "order": order} for n, (file, order, cells) in enumerate(sheets)
            for cell in cells]
    frame = pd.DataFrame({column: [row[column] for row in rows] for column in FRAME_COLUMNS})
    return frame.astype({"value": float, "blank": bool, "valid": bool, "order": int})


def with_other_code(sheets):
    """The sheets with the first cell of each given a code the rulebook does not have ("99-9")."""
    return [(file, order, [{**cell, "code": "99-9"} if i == 0 else cell for i, cell in enumerate(cells)])
            for file, order, cells in sheets]


def merge_book():
    from assess_xl.rules import load
    return load.load()


@settings(max_examples=60, deadline=None)
@given(SHEETS, st.sampled_from([DISTRICTS, [*DISTRICTS, "别的区"]]))
def test_records_frame_is_what_pandas_infers_from_the_cells_in_submission_order(sheets, districts):
    records = as_records(sheets, districts)
    expected = as_frame(sheets).sort_values("order", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(records.frame(text_dtype(records)), expected)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SHEETS, st.booleans())
def test_unsupplied_departments_are_those_without_any_record_of_a_district(book, sheets, other_code):
    """One problem per department with required codes, naming in the run's order each district no record of
    that department's required codes reached (blank or not); nothing for a department that reached all. A code
    the rulebook does not have (numbered after its codes) belongs to none."""
    codes = [*book.indicators, "99-9"] if other_code else None
    sheets = with_other_code(sheets) if other_code else sheets
    found = {(p.sheet, p.district) for p in merge._unsupplied(as_records(sheets, DISTRICTS, codes), book)}
    frame = as_frame(sheets)
    supplied = set(zip(frame["district"], frame["code"]))
    expected = set()
    for department in book.departments:
        codes = [i.code for i in book.department_indicators(department) if not i.blank_is_zero]
        lacking = [d for d in DISTRICTS if codes and not any((d, c) in supplied for c in codes)]
        if lacking:
            expected.add((department, "、".join(lacking)))
    assert found == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SHEETS, st.booleans(), st.sampled_from([DISTRICTS, [*DISTRICTS, "别的区"]]))
def test_merged_values_are_the_winners_pivoted(book, sheets, strict, districts):
    """merge's district × code table: each usable winner's value in its place, as pivot and reindex lay it out."""
    records = as_records(sheets, districts)
    values, winners, _, _ = merge.merge(records, book, strict, [])
    frame = winners.frame(text_dtype(records))
    usable = frame[frame["valid"]]
    expected = (usable.pivot(index="district", columns="code", values="value").astype(float)
                .reindex(index=districts, columns=list(book.indicators)))
    expected.index.name, expected.columns.name = "区", None
    pd.testing.assert_frame_equal(values, expected)


def conflict_as_before(row, strict, tie, book):
    """The problem of an earlier record that differs from its winner, as merge._conflict made it one by one."""
    if tie:
        kind = P.Code.CONFLICT_STRICT if strict else P.Code.CONFLICT_TIE
    elif row["valid_w"] and not row["valid"]:
        kind = P.Code.CORRECTED
    else:
        kind = P.Code.CONFLICT_STRICT if strict else P.Code.CONFLICT
    return P.make(kind, file=row["file_w"], sheet=row["sheet_w"], cell=row["cell_w"], district=row["district"],
                  code=row["code"], raw=row["raw_w"], old=P.shorten(row["raw"]), old_file=row["file"],
                  winner=P.shorten(row["raw_w"]), winner_file=row["file_w"],
                  why=refusal(book.indicators[row["code"]], row["raw"]) if kind == P.Code.CORRECTED else "")


def blank_problems_as_before(frame, filled, book):
    """缺报 as merge._blank_problems found them with groupby."""
    blanks = frame[frame["blank"]].sort_values("order", kind="stable").groupby(["district", "code"], sort=False).tail(1)
    required = [code for code, indicator in book.indicators.items() if not indicator.blank_is_zero]
    blanks = blanks[blanks["code"].isin(required)]
    have = set(zip(filled["district"].tolist(), filled["code"].tolist()))
    return [P.make(P.Code.MISSING, file=row.file, sheet=row.sheet, cell=row.cell, district=row.district, code=row.code,
                   expected=book.indicators[row.code].what_to_type())
            for row in blanks.itertuples(index=False) if (row.district, row.code) not in have]


CONFLICT_FIELDS = ("district", "code", "file", "raw", "valid", "file_w", "sheet_w", "cell_w", "raw_w", "valid_w")


def merge_by_pandas_join(frame, book, districts, strict, reports):
    """merge as it was written with pandas' groupby and join: the reference the array version must equal."""
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
    rows = [dict(zip(CONFLICT_FIELDS, row)) for row in zip(*(differing[column].tolist() for column in CONFLICT_FIELDS))]
    problems = [conflict_as_before(row, strict, tie, book) for row, tie in zip(rows, tied.tolist())]
    superseded = differing[~tied]["file"].value_counts().to_dict()
    for report in reports:
        report.superseded = int(superseded.get(report.info.name, 0))
    disputed = differing[tied | ~(differing["valid_w"] & ~differing["valid"])]
    contested = disputed if strict else differing[tied]
    if len(contested):
        unsettled = pd.MultiIndex.from_frame(contested[key].drop_duplicates())
        winners = winners[~pd.MultiIndex.from_frame(winners[key]).isin(unsettled)]
    usable = winners[winners["valid"]]
    values = (usable.pivot(index="district", columns="code", values="value").astype(float)
              .reindex(index=districts, columns=list(book.indicators)))
    values.index, values.columns.name = pd.Index(districts, name="区"), None  # as value_table names them, none too
    problems.extend(blank_problems_as_before(frame, filled, book))
    return values, winners.drop(columns="_row").reset_index(drop=True), problems


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SHEETS, st.booleans(), st.sampled_from([DISTRICTS, [*DISTRICTS, "别的区"]]))
def test_merge_on_arrays_gives_what_the_pandas_join_gave(book, sheets, strict, districts):
    """Winners, values, conflicts, ties, corrections and 缺报 (and each file's superseded count) as the merge
    written with groupby and a join found them; the conflicts in the order 问题清单 shows them, then 缺报."""
    from assess_xl.read import gather
    reports = [merge.FileReport(gather.FileInfo(Path(name), name)) for name in ("a.xlsx", "b.xlsx")]
    expected_reports = [merge.FileReport(gather.FileInfo(Path(name), name)) for name in ("a.xlsx", "b.xlsx")]
    records = as_records(sheets, districts)
    values, winners, conflicts, missing = merge.merge(records, book, strict, reports)
    expected_values, expected_winners, expected_problems = merge_by_pandas_join(as_frame(sheets), book, districts,
                                                                                strict, expected_reports)
    pd.testing.assert_frame_equal(values, expected_values)
    pd.testing.assert_frame_equal(winners.frame(text_dtype(records)), expected_winners)
    expected_missing = [p for p in expected_problems if p.kind == P.Code.MISSING]
    assert conflicts == sorted([p for p in expected_problems if p not in expected_missing], key=P.sort_key)
    assert missing == expected_missing
    assert [r.superseded for r in reports] == [r.superseded for r in expected_reports]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SHEETS, st.booleans())
def test_supply_names_the_file_of_each_departments_latest_winner(book, sheets, other_code):
    """department × district: the file of the last record (by order, then as listed) of a department's codes."""
    codes = [*book.indicators, "99-9"] if other_code else None
    sheets = with_other_code(sheets) if other_code else sheets
    supply = merge._supply(as_records(sheets, DISTRICTS, codes), book)
    departments = [d for d in book.departments if book.department_indicators(d)]
    expected = np.full((len(departments), len(DISTRICTS)), "", dtype=object)
    latest = as_frame(sheets).sort_values("order", kind="stable")
    for code, district, file in zip(latest["code"], latest["district"], latest["file"]):
        department = book.indicators[code].department if code in book.indicators else None  # "99-9": none
        if department in departments:
            expected[departments.index(department), DISTRICTS.index(district)] = file
    assert list(supply.index) == departments and list(supply.columns) == DISTRICTS
    assert (supply.to_numpy() == expected).all()


@pytest.mark.parametrize("keys", [["甲区", "乙区", "丙区"], ["甲区", "别的区", "丙区"], ["别的区"], []])
def test_a_sheets_cells_are_settled_as_one_record_per_code_and_district_column(book, keys):
    """A sheet's read holds each input cell once and each code once (in the order read); settled, every
    cell becomes a record with its district, code, file, sheet and order; columns of other districts drop out."""
    from assess_xl.read.form import Cells, DistrictColumns, SheetRead
    from assess_xl.read.records import records_of
    codes = ["6-1", "7-1"]
    cells = [(code, key, n) for n, (code, key) in enumerate((c, k) for c in codes for k in keys)]
    records = Cells(array("d", [float(n) for *_, n in cells]), [str(n) for *_, n in cells],
                    bytearray(n % 2 == 0 for *_, n in cells), bytearray(True for _ in cells), [f"H{n}" for *_, n in cells])
    columns = DistrictColumns(keys, keys, [f"H{n}" for n in range(len(keys))], [True] * len(keys))
    sheet = SheetRead("开发处", "开发处", columns, records, [], None, codes)
    districts = ["甲区", "乙区", "丙区"]
    placed, _ = merge._settle(sheet, merge.Positions.of(districts, book), 3, "a.xlsx")
    frame = records_of([placed], districts, list(book.indicators)).frame("str")
    kept = [(code, key, n) for code, key, n in cells if key in districts]
    assert frame.to_dict("list") == {
        "district": [key for _, key, _ in kept], "code": [code for code, _, _ in kept],
        "value": [float(n) for *_, n in kept], "raw": [str(n) for *_, n in kept], "blank": [n % 2 == 0 for *_, n in kept],
        "valid": [True for _ in kept], "file": ["a.xlsx"] * len(kept), "sheet": ["开发处"] * len(kept),
        "cell": [f"H{n}" for *_, n in kept], "order": [3] * len(kept)}


# ---- the whole merge, against the merge written with pandas ------------------------------------------------

ENTRIES = st.sampled_from(["", "", "1", "2", "是", "否", "坏", "-1"])
RETURNS = st.lists(st.tuples(st.sampled_from(["办公室", "开发处"]), st.integers(0, 2),
                             st.lists(st.sampled_from([*DISTRICTS, "别的区"]), min_size=1, max_size=4, unique=True),
                             st.lists(ENTRIES, min_size=1, max_size=12)), max_size=6)


def returned_read(n, department, order, headers, entries, book):
    """What a child sends back for a return of `department` with `headers` as district columns, its input cells
    filled from `entries` in turn, saved at `order` days after the first; the same content, the same SHA-256."""
    from datetime import timezone
    from assess_xl.read import gather
    from assess_xl.read.cells import interpret
    from assess_xl.read.form import Cells, DistrictColumns, FileRead, RowRead, SheetRead
    from assess_xl.xlsx.layout import name_key
    name = f"inbox/{n}-{department}.xlsx"
    codes = [i.code for i in book.department_indicators(department)][:3]
    cells, problems = Cells(letters=[chr(ord("H") + column) for column in range(len(headers))]), []
    for row, code in enumerate(codes):
        readings = [interpret(book.indicators[code], entries[(row * len(headers) + column) % len(entries)])
                    for column in range(len(headers))]
        here = [f"{chr(ord('H') + column)}{row + 4}" for column in range(len(headers))]
        for reading, header, cell in zip(readings, headers, here):
            problems += [P.make(kind, raw=reading.raw, cell=cell, district=header, code=code, file=name, sheet=department,
                                **fields) for kind, fields in reading.notes]
        cells.add(RowRead(range(len(readings)), dict(enumerate(readings))), str(row + 4))
    filled = [not all(cells.blank[i::len(headers)]) for i in range(len(headers))]
    columns = DistrictColumns([name_key(h) for h in headers], headers, [f"{chr(ord('H') + c)}3" for c in range(len(headers))],
                              filled)
    digest = hashlib.sha256(json.dumps([department, order, headers, entries], ensure_ascii=False).encode()).hexdigest()
    info = gather.FileInfo(Path(name), name, sha256=digest, modified=datetime(2007, 3, 1 + order, tzinfo=timezone.utc))
    return FileRead(info, sheets=[SheetRead(department, department, columns, cells, problems, None, codes)])


def merge_files_as_before(reads, book, strict, districts):
    """merge_files as it was written before the records became arrays: settled into lists of names, one frame,
    the pandas join, and the supply and 缺报 of departments found by loops."""
    from assess_xl.xlsx.layout import name_key
    problems = []
    reads, reports = merge._unique(reads, problems)
    chosen, district_problems = merge.run_districts(reads, districts)
    problems += district_problems
    index = {name_key(d): d for d in chosen}
    position = {key: n for n, key in enumerate(sorted({read.info.submission_key for read in reads}))}
    rows = []
    for read in reads:
        report = merge.FileReport(read.info, read.status, read.reason)
        reports.append(report)
        problems += read.problems
        for sheet in read.sheets:
            where = {"file": read.info.name, "sheet": sheet.sheet}
            for key, header, cell, filled in zip(*sheet.columns):
                if key not in index:
                    kind = P.Code.DISTRICT_UNKNOWN_FILLED if filled else P.Code.DISTRICT_UNKNOWN
                    problems.append(P.make(kind, raw=header, cell=cell, **where))
            problems += [P.make(P.Code.DISTRICT_MISSING, district=district, **where)
                         for key, district in index.items() if key not in sheet.columns.keys]
            problems += [problem.with_district(index.get(name_key(problem.district), "")) for problem in sheet.problems
                         if not problem.district or name_key(problem.district) in index]
            keys, cells, cell = sheet.columns.keys, sheet.records, sheet.records.cells()
            kept = [{"district": index[keys[i % len(keys)]], "code": sheet.codes[i // len(keys)], "value": cells.value[i],
                     "raw": cells.raw[i], "blank": bool(cells.blank[i]), "valid": bool(cells.valid[i]), "file": read.info.name,
                     "sheet": sheet.sheet, "cell": cell[i], "order": position[read.info.submission_key]}
                    for i in range(len(cells)) if keys[i % len(keys)] in index]
            if not all(row["blank"] for row in kept):
                report.supplied.append(sheet.department)
                rows += kept
            else:
                report.not_submitted.append(sheet.department)
    frame = pd.DataFrame({column: [row[column] for row in rows] for column in FRAME_COLUMNS})
    frame = frame.astype({"value": float, "blank": bool, "valid": bool, "order": int})
    values, winners, merge_problems = merge_by_pandas_join(frame, book, chosen, strict, reports)
    won = {(d, c): f for d, c, f, v in zip(winners["district"], winners["code"], winners["file"], winners["valid"]) if v}
    problems = [p for p in problems if not (p.cell and p.code and p.district and p.kind not in merge.MERGE_KINDS
                                            and won.get((p.district, p.code), p.file) != p.file)]
    problems += merge_problems + unsupplied_as_before(frame, book, chosen)
    return values, sorted(problems, key=P.sort_key), reports, winners, supply_as_before(winners, book, chosen)


def unsupplied_as_before(frame, book, districts):
    supplied = set(zip(frame["district"], frame["code"]))
    out = []
    for department in book.departments:
        codes = [i.code for i in book.department_indicators(department) if not i.blank_is_zero]
        lacking = [d for d in districts if codes and not any((d, c) in supplied for c in codes)]
        if lacking:
            problem = P.make(P.Code.DEPARTMENT_MISSING, sheet=department, department=department, count=len(lacking))
            out.append(problem.with_district("、".join(lacking)))
    return out


def supply_as_before(winners, book, districts):
    departments = [d for d in book.departments if book.department_indicators(d)]
    files = np.full((len(departments), len(districts)), "", dtype=object)
    latest = winners.sort_values("order", kind="stable")
    for code, district, file in zip(latest["code"], latest["district"], latest["file"]):
        if book.indicators[code].department in departments:
            files[departments.index(book.indicators[code].department), districts.index(district)] = file
    return pd.DataFrame(files, index=pd.Index(departments, name="部门"), columns=pd.Index(districts), dtype=object)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(RETURNS, st.booleans(), st.sampled_from([None, DISTRICTS, ["姑苏区", "吴中区", "相城区"]]))
def test_merging_returns_gives_what_the_merge_on_a_frame_gave(book, returns, strict, districts):
    """Returns with conflicts, ties (the same saved time), corrections of unreadable entries, blanks, copies,
    columns of districts outside the run and cell problems later superseded: values, winners, supply, each
    file's report and every problem in order as the merge written on one pandas frame gave them."""
    reads = [returned_read(n, *one, book) for n, one in enumerate(returns)]
    result = merge.merge_files(reads, book, strict, None, districts)
    values, problems, reports, winners, supply = merge_files_as_before(reads, book, strict, districts)
    pd.testing.assert_frame_equal(result.values, values)
    assert result.problems == problems
    assert [(r.info.name, r.status, r.reason, r.supplied, r.not_submitted, r.superseded) for r in result.files] == \
        [(r.info.name, r.status, r.reason, r.supplied, r.not_submitted, r.superseded) for r in reports]
    pd.testing.assert_frame_equal(result.winners, winners)
    pd.testing.assert_frame_equal(result.supply, supply)
