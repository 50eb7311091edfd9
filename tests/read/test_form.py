import math

import openpyxl
import pytest

from assess_xl.demo import fill_workbook
from helpers import requires_soffice, set_saved_time, soffice_resave, write_forms
from helpers import read_paths

DISTRICTS = ["玄武区", "秦淮区", "建邺区"]


@pytest.fixture
def ind(book):
    return book.indicators


# ---- round trip ---------------------------------------------------------------------------

@pytest.fixture
def returned(book, tmp_path):
    """Blank forms in out/, and the copies departments sent back in inbox/."""
    blank = write_forms(book, DISTRICTS, tmp_path / "out")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    return blank, inbox


def test_round_trip(book, returned):
    blank, inbox = returned
    # 办公室 and 环监局 fill the full workbook; 开发处 returns its copy twice, the second with a change.
    fill_workbook(blank["全部"], inbox / "全部-办公室环监局.xlsx", {
        "办公室": {"1-1": {"玄武区": "是", "秦淮区": "√", "建邺区": "否"}, "1-2": {"玄武区": "1", "秦淮区": "也许"}},
        "环监局": {"22-1": {"玄武区": "75%", "秦淮区": "74.9", "建邺区": 0.9}, "17-2": {"玄武区": "３"}},
    })
    fill_workbook(blank["开发处"], inbox / "开发处-初稿.xlsx",
                  {"开发处": {"6-1": {"玄武区": "2", "秦淮区": "0", "建邺区": "1"}}})
    fill_workbook(blank["开发处"], inbox / "开发处-修改.xlsx",
                  {"开发处": {"6-1": {"玄武区": "2", "秦淮区": "1", "建邺区": "1"}}})
    set_saved_time(inbox / "开发处-初稿.xlsx", "2008-01-05T08:00:00Z", mtime=1_300_000_000)
    set_saved_time(inbox / "开发处-修改.xlsx", "2008-01-06T08:00:00Z", mtime=1_200_000_000)
    result = read_paths([inbox], book)
    v = result.values
    assert list(v.index) == DISTRICTS
    assert v.loc["玄武区", "1-1"] == 1 and v.loc["秦淮区", "1-1"] == 1 and v.loc["建邺区", "1-1"] == 0
    assert v.loc["玄武区", "1-2"] == 1 and math.isnan(v.loc["秦淮区", "1-2"]) and math.isnan(v.loc["建邺区", "1-2"])
    assert v.loc["玄武区", "22-1"] == 0.75 and v.loc["秦淮区", "22-1"] == pytest.approx(0.749)
    assert v.loc["建邺区", "22-1"] == 0.9 and v.loc["玄武区", "17-2"] == 3
    assert list(v["6-1"]) == [2, 1, 1]  # the later save wins although its file time is older
    by_kind = {}
    for p in result.problems:
        by_kind.setdefault(p.kind, []).append(p)
    (invalid,) = by_kind["bool_invalid"]
    assert (invalid.file, invalid.sheet, invalid.cell, invalid.district, invalid.code, invalid.raw) == (
        "inbox/全部-办公室环监局.xlsx", "办公室", "I5", "秦淮区", "1-2", "也许")
    (conflict,) = by_kind["conflict"]
    assert (conflict.district, conflict.code, conflict.cell) == ("秦淮区", "6-1", "I4")
    assert "“0”（inbox/开发处-初稿.xlsx）" in conflict.message and "采用较晚提交的“1”（inbox/开发处-修改.xlsx）" in conflict.message
    (points,) = by_kind["percent_points"]
    assert (points.cell, points.raw) == ("I22", "74.9")
    assert {(p.cell, p.code) for p in by_kind["missing"] if p.sheet == "办公室"} == {("J5", "1-2")}
    assert any(p.cell == "H5" and p.code == "17-2" for p in by_kind["number_as_text"])
    missing_departments = {p.sheet for p in by_kind["department_missing"]}
    assert "综合处" in missing_departments and "开发处" not in missing_departments
    report = {r.info.name: r for r in result.files}
    assert report["inbox/全部-办公室环监局.xlsx"].supplied == ["办公室", "环监局"]
    assert report["inbox/开发处-初稿.xlsx"].superseded == 1
    assert result.supply.loc["开发处", "秦淮区"] == "inbox/开发处-修改.xlsx"


def test_strict_conflicts(book, returned):
    blank, inbox = returned
    fill_workbook(blank["开发处"], inbox / "a.xlsx", {"开发处": {"6-1": {"玄武区": "2"}}})
    fill_workbook(blank["开发处"], inbox / "b.xlsx", {"开发处": {"6-1": {"玄武区": "3"}}})
    result = read_paths([inbox], book, strict_conflicts=True)
    assert math.isnan(result.values.loc["玄武区", "6-1"])
    assert [p.level for p in result.problems if p.kind == "conflict_strict"] == ["错误"]


def _edit(path, edit):
    workbook = openpyxl.load_workbook(path)
    edit(workbook)
    workbook.save(path)


def test_moved_row_reordered_columns_extra_row(book, returned):
    blank, inbox = returned
    path = inbox / "环监局.xlsx"
    fill_workbook(blank["环监局"], path, {"环监局": {"17-1": {"玄武区": "是", "秦淮区": "否"},
                                                  "17-2": {"玄武区": 1, "秦淮区": 2}}})

    def rearrange(workbook):
        ws = workbook["环监局"]
        ws.protection.sheet = False
        ws.unmerge_cells("B4:B5"), ws.unmerge_cells("C4:C5"), ws.unmerge_cells("D4:D5")
        for col in range(1, 11):  # swap rows 4 and 5
            a, b = ws.cell(4, col), ws.cell(5, col)
            a.value, b.value = b.value, a.value
        for row in range(3, ws.max_row + 1):  # swap the 玄武区 and 秦淮区 columns
            a, b = ws.cell(row, 8), ws.cell(row, 9)
            a.value, b.value = b.value, a.value
        ws.insert_rows(4)
    _edit(path, rearrange)
    values = read_paths([path], book).values
    assert values.loc["玄武区", "17-1"] == 1 and values.loc["秦淮区", "17-1"] == 0
    assert values.loc["玄武区", "17-2"] == 1 and values.loc["秦淮区", "17-2"] == 2


def test_code_overwritten_and_district_renamed(book, returned):
    blank, inbox = returned
    path = inbox / "办公室.xlsx"
    fill_workbook(blank["办公室"], path, {"办公室": {"1-1": {d: "是" for d in DISTRICTS},
                                                  "1-2": {d: "是" for d in DISTRICTS}}})

    def vandalise(workbook):
        ws = workbook["办公室"]
        ws["A5"] = "1-3"
        ws["I3"] = "秦淮"
    _edit(path, vandalise)
    result = read_paths([path], book)
    kinds = {(p.kind, p.cell or p.district or p.code) for p in result.problems}
    assert ("code_unknown", "A5") in kinds and ("code_missing", "1-2") in kinds
    assert ("district_unknown_filled", "I3") in kinds and ("district_missing", "秦淮区") in kinds
    assert math.isnan(result.values.loc["玄武区", "1-2"]) and math.isnan(result.values.loc["秦淮区", "1-1"])
    assert result.values.loc["玄武区", "1-1"] == 1


def test_form_of_another_rulebook(book, returned, tmp_path):
    import yaml
    from assess_xl.rules import load as rulebook
    raw = yaml.safe_load(rulebook.embedded_rulebook_path().read_text(encoding="utf-8"))
    raw["year"] = 2008
    other = rulebook.build(raw)
    forms_2008 = write_forms(other, DISTRICTS, tmp_path / "2008")
    fill_workbook(forms_2008["办公室"], returned[1] / "2008.xlsx", {"办公室": {"1-1": {"玄武区": "是"}}})
    result = read_paths([returned[1]], book)
    (problem,) = [p for p in result.problems if p.kind == "other_rulebook"]
    assert problem.file == "inbox/2008.xlsx" and "另一份评分细则" in problem.message
    assert math.isnan(result.values.loc["玄武区", "1-1"]) if "玄武区" in result.values.index else True
    assert result.files[0].status == "其他细则"


def test_lock_and_hidden_files_skipped(book, returned):
    blank, inbox = returned
    fill_workbook(blank["办公室"], inbox / "~$办公室.xlsx", {"办公室": {"1-1": {"玄武区": "是"}}})
    fill_workbook(blank["办公室"], inbox / ".办公室.xlsx", {"办公室": {"1-1": {"玄武区": "是"}}})
    result = read_paths([inbox], book)
    assert result.files == []
    assert {skip.code for skip in result.skipped} == {"skip_lock", "skip_hidden"}


def test_input_files_untouched(book, returned):
    import hashlib
    blank, inbox = returned
    path = inbox / "办公室.xlsx"
    fill_workbook(blank["办公室"], path, {"办公室": {"1-1": {"玄武区": "是"}}})
    before = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime)
    read_paths([inbox], book)
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime) == before


@requires_soffice
def test_libreoffice_resave_reads_the_same(book, returned, tmp_path):
    blank, inbox = returned
    entries = {"环监局": {"21-1": {"玄武区": "预案不完善"}, "22-1": {"玄武区": "85%", "秦淮区": "0.6"},
                        "17-1": {d: "是" for d in DISTRICTS}, "17-2": {"秦淮区": "2"}}}
    path = inbox / "环监局.xlsx"
    fill_workbook(blank["环监局"], path, entries)
    resaved = soffice_resave(path, tmp_path / "resaved")
    original = read_paths([path], book)
    again = read_paths([resaved], book)
    assert again.values.equals(original.values)
    assert again.values.loc["玄武区", "21-1"] == 1 and again.values.loc["秦淮区", "22-1"] == 0.6
    assert not any(p.kind == "no_metadata" for p in again.problems)  # metadata survived LibreOffice


def test_a_metadata_district_list_is_checked_once_and_given_to_each_form_as_its_own():
    """The same list in many forms: each gets a list of its own (checked once per child); a list of names
    that compare alike, or that hide characters, is refused however often it comes."""
    import json
    from assess_xl.read import form
    listed = json.dumps(["甲区", "乙区"], ensure_ascii=False)
    first, second = form._district_list(listed), form._district_list(listed)
    assert first == second == ["甲区", "乙区"] and first is not second
    for refused in (json.dumps(["甲区", "甲区 "], ensure_ascii=False), json.dumps(["甲\u202e区"], ensure_ascii=False), "[1]"):
        assert form._district_list(refused) is None and form._district_list(refused) is None
    assert form._district_list(None) is None


def test_a_metadata_code_list_is_decoded_once_and_given_to_each_form_as_its_own():
    """Every form of a department lists the same codes: each gets a list of its own; a list that is not one of codes is
    refused however often it comes."""
    import json
    from assess_xl.read import form
    from assess_xl.read.form import META_SHEET, TOOL
    from assess_xl.xlsx.parse import SheetData

    def meta(codes: str):
        rows = [["tool", TOOL], ["districts", json.dumps(["甲区"], ensure_ascii=False)], ["codes:综合处", codes]]
        notes: list = []
        return form.read_metadata({META_SHEET: SheetData(META_SHEET, False, rows)}, "a.xlsx", notes), notes

    (first, _), (second, _) = meta('["2-1", "2-2"]'), meta('["2-1", "2-2"]')
    assert first.codes == second.codes == {"综合处": ["2-1", "2-2"]}
    assert first.codes["综合处"] is not second.codes["综合处"]
    for refused in ('[["2-1"]]', "{}", '["' + "x" * 41 + '"]', "not json ["):
        for _ in range(2):
            found, notes = meta(refused)
            assert found.codes == {} and [p.kind for p in notes] == ["metadata_invalid"]


def test_metadata_lists_are_checked_once_when_short_and_long_ones_are_not_kept():
    """A list of a length a form can have is checked once per child (the next form's is remembered); a longer text,
    valid or not (a hostile file's), is checked each time and not kept in the child's memory."""
    import json
    from assess_xl.read import form
    form._remembered_codes.cache_clear()
    form._remembered_district_list.cache_clear()
    codes = json.dumps([f"{n}-1" for n in range(1_000)])
    assert form._checked_codes(codes) == form._checked_codes(codes) == tuple(f"{n}-1" for n in range(1_000))
    assert form._remembered_codes.cache_info()[:2] == (1, 1)  # hits, misses
    long_text = "[" + " " * form.REMEMBERED_TEXT + '"2-1"]'
    assert form._checked_codes(long_text) == ("2-1",)
    assert form._checked_codes("x" * (form.REMEMBERED_TEXT + 1)) is None
    assert form._remembered_codes.cache_info().currsize == 1
    districts = json.dumps(["甲区", "乙区"], ensure_ascii=False)
    assert form._district_list(districts) == form._district_list(districts) == ["甲区", "乙区"]
    assert form._district_list("[" + " " * form.REMEMBERED_TEXT + '"甲区"]') == ["甲区"]
    assert form._remembered_district_list.cache_info()[:2] == (1, 1)
    assert form._remembered_district_list.cache_info().currsize == 1


def test_a_workbook_is_read_with_the_cycle_collector_paused_and_resumed_after(book, returned, monkeypatch):
    """Its pre-flight, parse and sheets make many small objects and no cycles: no collection scans them while
    they are made, and the collector is as it was afterwards (also when reading raises)."""
    import gc
    from assess_xl.read import form, gather
    blank, inbox = returned
    fill_workbook(blank["开发处"], inbox / "开发处.xlsx", {"开发处": {"6-1": {"玄武区": "2"}}})
    seen = []
    parse = form.parse_workbook
    monkeypatch.setattr(form, "parse_workbook", lambda data: seen.append(gc.isenabled()) or parse(data))
    assert gc.isenabled()
    read = form.read_loaded(gather.load(inbox / "开发处.xlsx", "开发处.xlsx"), book)
    assert read.status == form.READ and seen == [False] and gc.isenabled()
    monkeypatch.setattr(form, "read_sheets", lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        form.read_loaded(gather.load(inbox / "开发处.xlsx", "开发处.xlsx"), book)
    assert gc.isenabled()
    gc.disable()
    try:
        monkeypatch.undo()
        form.read_loaded(gather.load(inbox / "开发处.xlsx", "开发处.xlsx"), book)
        assert not gc.isenabled()  # paused by someone else: left so
    finally:
        gc.enable()


def _district_columns_one_by_one(header, header_row, code_col, where, out):
    """The district columns of a header row as read before they were kept per distinct row (the reference)."""
    from assess_xl import problems as P
    from assess_xl.problems import Code
    from assess_xl.read import cells, form
    from assess_xl.xlsx.layout import cell_name
    columns = {}
    for col, cell in enumerate(header):
        key, shown = form._header_key(cells.raw_text(cell).strip() if cell is not None else "")
        if col == code_col or not key or key in form._CONTEXT_KEYS:
            continue
        columns.setdefault(key, []).append((shown, col))
    result = {}
    for key, found in columns.items():
        if len(found) > 1:
            out.append(P.make(Code.DISTRICT_DUPLICATE, district=found[0][0], cell=cell_name(header_row, found[1][1]), **where))
        else:
            result[key] = found[0]
    return (list(result), [v[0] for v in result.values()], [v[1] for v in result.values()],
            [form._column_letters(v[1]) for v in result.values()])


_HEADER_CELLS = ["甲区", "乙区", "甲区 ", "ＡＢ区", "ab区", "编号", "目标", "", None, 1, 1.0, True, 2.5, "1", "True", "丙\u202e区"]


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(header=st.lists(st.sampled_from(_HEADER_CELLS), max_size=12), code_col=st.integers(0, 3),
       header_row=st.integers(0, 5))
def test_district_columns_kept_per_distinct_header_row_are_those_read_one_by_one(header, code_col, header_row):
    """The same header row in many sheets and files: its columns worked out once, its duplicates a problem of
    each sheet (with that sheet's place); 1, 1.0 and True are different headers though they compare equal."""
    from assess_xl.read import form
    for where in ({"file": "a.xlsx", "sheet": "办公室"}, {"file": "b.xlsx", "sheet": "开发处"}):
        out, expected_out = [], []
        found = form._district_columns(list(header), header_row, code_col, where, out)
        expected = _district_columns_one_by_one(list(header), header_row, code_col, where, expected_out)
        assert (found.keys, found.headers, found.columns, found.letters) == expected
        assert out == expected_out
