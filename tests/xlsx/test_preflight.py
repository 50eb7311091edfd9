"""The pre-flight on bytes alone: what it finds in XML parts and OLE records without any parser
(the end-to-end verdicts through `collect` are in tests/read/test_gather.py)."""
import pytest

from assess_xl.xlsx import preflight
from assess_xl.yearwork import zip_of


def test_openpyxl_uses_defusedxml():
    assert preflight.openpyxl_is_defused()


def test_biff_filepass_is_encryption():
    bof = (0x0809).to_bytes(2, "little") + (4).to_bytes(2, "little") + b"\x00" * 4
    filepass = (0x002F).to_bytes(2, "little") + (2).to_bytes(2, "little") + b"\x00\x00"
    eof = (0x000A).to_bytes(2, "little") + b"\x00\x00"
    assert preflight._biff_has_filepass(bof + filepass + eof)
    assert not preflight._biff_has_filepass(bof + eof + filepass)


# ---- the pre-flight reads a sheet's XML as the reader will (issue 19, item 4) --------------------

@pytest.mark.parametrize("cells,reach", [
    (b"<row r='3'><c r='B3'/></row>", (3, 2)),
    (b'<row r = "4" ><c  r = "C4" />\n</row>', (4, 3)),
    (b'<x:row xmlns:x="urn:x" r="5"><x:c r="D5"/></x:row>', (5, 4)),
    (b"<row><c/><c/><c/></row><row><c/></row>", (2, 3)),  # no references: each follows the one before
    (b"<row r='7'><c r='A7'/><c/><c/></row>", (7, 3)),
])
def test_sheet_reach_whatever_the_spelling(cells, reach):
    xml = b'<worksheet xmlns="urn:main"><dimension ref="A1"/><sheetData>' + cells + b"</sheetData></worksheet>"
    scan = preflight.scan_sheet(xml)
    assert (scan.rows, scan.columns) == reach


def test_sheet_with_a_doctype_is_damaged_not_parsed():
    with pytest.raises(ValueError):
        preflight.scan_sheet(b'<!DOCTYPE w [<!ENTITY e "x">]><worksheet><sheetData/></worksheet>')


@pytest.mark.parametrize("cells,errors,formulas", [
    (b"<row r='3'><c r='B3'><f>SUM(A1:A2)</f><v>3</v></c><c r='C3' t='e'><v>#DIV/0!</v></c></row>",
     {"C3"}, {"B3": "SUM(A1:A2)"}),
    (b"<row><c><f>A&amp;B</f></c><c t=\"e\"/><c><f><![CDATA[x<y]]>z</f></c></row>", {"B1"}, {"A1": "A&B", "C1": "x<yz"}),
    (b"<row><c r='D9'><f>a<x>inner</x>after</f></c></row><!-- <c r='ZZ99' t='e'/> -->", set(), {"D9": "a"}),
    (b'<x:row xmlns:x="urn:main" r="5"><x:c r=" e5 " t="e"><x:f t="shared" si="0"/></x:c></x:row>', {"E5"}, {"E5": ""}),
])
def test_sheet_error_and_formula_cells_as_the_reader_places_them(cells, errors, formulas):
    """Error values and formulas are found by cell, whatever the spelling: text inside a formula's own
    element only, CDATA and entities decoded, comments ignored, references in either case."""
    scan = preflight.scan_sheet(b'<worksheet xmlns="urn:main"><sheetData>' + cells + b"</sheetData></worksheet>")
    assert (scan.errors, scan.formulas) == (errors, formulas)


@pytest.mark.parametrize("xml", [
    b'<?xml version="1.0"?>\n<!-- a long prolog -->' + b" " * 5000 + b'<!DOCTYPE w SYSTEM "http://x/y.dtd"><worksheet/>',
    b"<worksheet>&e;</worksheet>",
    b"<worksheet><sheetData><row><c r='A1'></row></sheetData></worksheet>",
])
def test_sheet_that_is_not_plain_xml_is_refused(xml):
    with pytest.raises((SyntaxError, ValueError)):
        preflight.scan_sheet(xml)


def test_sheet_too_large_is_stopped_at_the_far_cell():
    with pytest.raises(preflight.SheetPartTooLarge):
        preflight.scan_sheet(b"<worksheet><sheetData><row r='1'><c r='A1'/><c r='GJH100000'/></row></sheetData></worksheet>")


# ---- plain sheets are scanned by searches over their bytes (issue 21): the same answer, or none -------

def _spelling(rng, plain: float) -> str:
    """One piece of a sheet's XML: mostly as spreadsheet programs write it, sometimes any other spelling
    the scan must read (quotes, spaces, prefixes, missing references, formulas, error values, comments,
    character references, far cells, broken XML)."""
    odd = rng.random() > plain
    column = rng.choice(["A", "C", "AB", "ALM", "GJH", "GJI", "XFD"] if odd else ["A", "B", "AB"])
    row = rng.choice(["1", "1998", "2000", "99999", "100000", "100001", "1000000"] if odd else ["1", "3", "1999"])
    kind = rng.randrange(6)
    if kind < 3:
        ref = rng.choice([f"r='{column}{row}'", f'r = "{column}{row}"', "", f'r="{column.lower()}{row}"',
                          f'r="${column}${row}"', f'r="&#65;{row}"', f'r=" {column}{row} "']) if odd else f'r="{column}{row}"'
        more = rng.choice([' t="e"', " t='e'", ' t="&#101;"', ' x:t="e"', ' errorTitle="e"']) if odd else rng.choice(["", ' s="1"', ' t="s"'])
        inner = rng.choice(["<f>SUM(A1)</f><v>2</v>", "<x:f>A</x:f>", "<v>1</v>"]) if odd else rng.choice(["", "<v>1</v>", "<is><t>x</t></is>"])
        tag = rng.choice(["c", "x:c"]) if odd else "c"
        attributes = f"{more} {ref}" if odd and rng.random() < 0.3 else f" {ref}{more}"
        return f"<{tag}{attributes}>{inner}</{tag}>"
    if kind < 5:
        ref = rng.choice(["", f"r='{row}'", 'r="0"', 'r=" 5 "', 'r="\u0661\u0662"', 'x:r="2"']) if odd else f'r="{row}"'
        return f"</row><{'x:row' if odd and rng.random() < 0.2 else 'row'} {ref}>"
    if odd:
        return rng.choice(["<!-- <c r='ZZ99'/> -->", "<![CDATA[<c r='A1'/>]]>", "<?pi x?>", "<dimension ref='A1'/>",
                           f'<dimension ref="{column}{row}"/>', "<f/>", "<", "&bad;", "</c>", "&#60;"])
    return rng.choice([f'<dimension ref="A1:{column}{row}"/>', "<mergeCell ref='A1:B2'/>", "&amp;",
                       "<dataValidation><formula1>1</formula1></dataValidation>"])


def _sheet(rng, plain: float) -> bytes:
    declaration = rng.choice(["", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'])
    if rng.random() > plain:
        declaration = rng.choice(["<?xml version='1.0'?>", '<?xml version="1.0" encoding="UTF-16"?>', "\ufeff", "<?pi?>"])
    namespaces = rng.choice(['xmlns="urn:main"', 'xmlns="urn:main" xmlns:x="urn:x"', ""])
    body = "".join(_spelling(rng, plain) for _ in range(rng.randrange(30)))
    return f'{declaration}<worksheet {namespaces}><sheetData><row r="1">{body}</row></sheetData></worksheet>'.encode()


def _outcome(scan, data: bytes):
    try:
        found = scan(data)
    except Exception as exc:  # noqa: BLE001  which exception is part of the answer compared
        return type(exc).__name__
    return None if found is None else (found.rows, found.columns, found.errors, found.formulas)


def test_plain_sheet_scan_answers_only_as_the_full_scan_would():
    """Thousands of sheets, plain and odd: whenever the search-based scan answers, the element-by-element
    scan (expat callbacks) gives that same answer (reach, error values, formulas, no exception)."""
    import random
    rng = random.Random(21)
    answered = within = 0
    for n in range(6000):
        data = _sheet(rng, 0.995 if n % 2 else 0.9)
        plain = _outcome(preflight._plain_scan, data)
        if plain is not None:
            answered += 1
            within += preflight._reach_within_dimension(data, preflight._content_start(data)) is not None
            assert plain == _outcome(lambda d: preflight._SheetScanner().scan_part(d), data), data
    assert answered > 500 and within > 200  # the comparison ran on many sheets, by either way of counting


def test_sheets_of_a_written_form_take_the_plain_scan(tmp_path):
    """The forms this tool writes (and what programs save of them) are plain: no Python call per cell."""
    import io
    import zipfile
    from assess_xl.publish import forms
    from assess_xl.rules import load
    book = load.load()
    form = forms.build_forms(book, ["甲区", "乙区", "丙区"])[0]
    archive = zipfile.ZipFile(io.BytesIO(form.content))
    sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
    assert len(sheets) > 10
    for data in sheets:
        plain = preflight._plain_scan(data)
        assert plain is not None and preflight._reach_within_dimension(data, preflight._content_start(data)) is not None
        full = preflight._SheetScanner().scan_part(data)
        assert (plain.rows, plain.columns, plain.errors, plain.formulas) == (full.rows, full.columns, full.errors, full.formulas)


# ---- a sheet within its dimension is answered by one search for a tag past it ---------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402


def _number(column: str) -> int:
    return preflight._column_number(column)


@settings(max_examples=300, deadline=None)
@given(bound=st.integers(1, 18_278), column=st.integers(1, 18_278))
def test_column_letters_at_most_a_bound_are_those_of_a_column_not_past_it(bound, column):
    from assess_xl.xlsx.layout import column_letters
    import re
    pattern = re.compile(preflight._at_most(column_letters(bound - 1), "A", "A", "Z"))
    assert bool(pattern.fullmatch(column_letters(column - 1))) == (column <= bound)


@settings(max_examples=300, deadline=None)
@given(bound=st.integers(1, 9_999_999), number=st.integers(1, 9_999_999))
def test_numerals_at_most_a_bound_are_those_of_a_number_not_past_it(bound, number):
    import re
    pattern = re.compile(preflight._at_most(str(bound), "1", "0", "9"))
    assert bool(pattern.fullmatch(str(number))) == (number <= bound)
    assert not pattern.fullmatch("0" + str(number))  # a plain reference has no leading zero


def test_every_column_and_numeral_near_a_bound():
    """Exhaustively around each change of length and symbol (Z→AA, 9→10, 99→100)."""
    import re
    from assess_xl.xlsx.layout import column_letters
    for bound in (1, 2, 25, 26, 27, 52, 701, 702, 703, 728, 5000, 18_278):
        pattern = re.compile(preflight._at_most(column_letters(bound - 1), "A", "A", "Z"))
        assert [c for c in range(1, 1000) if pattern.fullmatch(column_letters(c - 1))] == list(range(1, min(bound, 999) + 1))
    for bound in (1, 9, 10, 11, 19, 20, 99, 100, 101, 109, 110, 999, 1000):
        pattern = re.compile(preflight._at_most(str(bound), "1", "0", "9"))
        assert [n for n in range(1, 1200) if pattern.fullmatch(str(n))] == list(range(1, bound + 1))


@pytest.mark.parametrize("body,answered", [
    (b'<row r="2"><c r="B2"/><c r="C3"/></row>', True),
    (b'<row r="2"><c r="D3"/></row>', False),  # past the dimension's last column: the tags are counted instead
    (b'<row r="4"><c r="B2"/></row>', False),  # a row past it
])
def test_a_sheet_within_its_dimension_has_the_dimension_as_its_reach(body, answered):
    xml = b'<worksheet><dimension ref="A1:C3"/><sheetData>' + body + b"</sheetData></worksheet>"
    within = preflight._reach_within_dimension(xml, 0)
    assert (within is not None) == answered
    if within is not None:
        full = preflight._SheetScanner().scan_part(xml)
        assert (within.rows, within.columns) == (full.rows, full.columns) == (3, 3)
        assert (preflight._plain_scan(xml).rows, preflight._plain_scan(xml).columns) == (3, 3)


def test_a_sheet_within_its_dimension_with_an_error_value_is_left_to_the_full_scan():
    xml = b'<worksheet><dimension ref="A1:C3"/><sheetData><row r="2"><c r="B2" t="e"/></row></sheetData></worksheet>'
    assert preflight._plain_scan(xml) is None and preflight._SheetScanner().scan_part(xml).errors == {"B2"}


# ---- a cell tag as programs write it (reference, style, type, in that order) needs no search for error types ----

@pytest.mark.parametrize("cell,within", [
    (b'<c r="B2"/>', True),
    (b'<c r="B2" s="1" t="s"/>', True),
    (b'<c r="B2" s="12" t="inlineStr"><is><t>e</t></is></c>', True),
    (b'<c r="B2" t="n"><v>1</v></c>', True),
    (b'<c r="B2" t="s" s="1"/>', False),  # another order: every reference counted instead
    (b'<c r="B2" cm="1"/>', False),  # another attribute
    (b'<c r="B2"  s="1"/>', False),  # another spacing
    (b'<c r="B2" s="1" t="e"/>', False),  # an error value: the full scan
    (b'<c r="B2" t="&#101;"/>', False),
    (b'<c r="B2" t="eee"/>', False),
    (b'<c r="B2" s="1" t=""/>', False),
])
def test_a_cell_within_the_dimension_is_plain_only_as_programs_write_it(cell, within):
    xml = b'<worksheet><dimension ref="A1:C3"/><sheetData><row r="2">' + cell + b"</row></sheetData></worksheet>"
    assert (preflight._reach_within_dimension(xml, 0) is not None) == within
    assert _outcome(preflight._plain_scan, xml) in (None, _outcome(lambda d: preflight._SheetScanner().scan_part(d), xml))


_CELL_RESTS = ["", ' s="1"', ' t="s"', ' s="1" t="s"', ' s="12" t="inlineStr"', ' t="e"', ' s="1" t="e"', ' t="e" s="1"',
               ' s="1" t="&#101;"', ' t="&#101;"', ' s="01"', ' cm="1"', ' t=""', ' t="str"', ' s="1"  t="s"', " t='e'",
               ' s="1" t="e "', ' s="1" t=" e"', ' s="" t="s"', ' s="1" t="n" x="e"', ' t="n" t="e"', ' s="1" t="s>"',
               ' t="eee"', ' s="1" t="E"', ' s="1"\tt="e"', ' s="1"\nt="e"']


def _cell(rng, plain: bool) -> str:
    column = rng.choice(["A", "B", "C"] if plain else ["A", "B", "C", "Z", "AA", "ALS", "ALT", "XFD"])
    row = rng.choice(["1", "2", "3"] if plain else ["1", "2", "3", "9", "10", "11", "99999", "100001"])
    rest = rng.choice(_CELL_RESTS if rng.random() < 0.5 or not plain else _CELL_RESTS[:5])
    inner = ["/>", "><v>1</v></c>"] + ([] if plain else ["><f>1</f></c>", "><is><t>e</t></is></c>",
                                                         "><x:f xmlns:x='u'>1</x:f></c>"])
    return f'<c r="{column}{row}"{rest}{rng.choice(inner)}'


def test_cells_spelt_every_way_within_a_dimension_are_answered_as_the_full_scan_would():
    import random
    rng = random.Random(24)
    answered = within = 0
    for _ in range(4000):
        plain = rng.random() < 0.7
        dimension = rng.choice(['<dimension ref="A1:C3"/>', '<dimension ref="A1:ALS11"/>', '<dimension ref="A1"/>', ""])
        rows = "".join(f'<row r="{rng.choice(["1", "2", "3", "12"])}">' + "".join(_cell(rng, plain) for _ in range(rng.randrange(4)))
                       + "</row>" for _ in range(rng.randrange(4)))
        tail = rng.choice(["", "<!-- c -->", '<mergeCells count="1"><mergeCell ref="A1:B2"/></mergeCells>', '<x t="e"/>'])
        data = f'<worksheet xmlns="urn:m">{dimension}<sheetData>{rows}</sheetData>{tail}</worksheet>'.encode()
        found = _outcome(preflight._plain_scan, data)
        if found is not None:
            answered += 1
            within += preflight._reach_within_dimension(data, 0) is not None
            assert found == _outcome(lambda d: preflight._SheetScanner().scan_part(d), data), data
    assert answered > 1000 and within > 500


# ---- for the verdict alone, a sheet's tags are held against its dimension rounded up ----

@settings(max_examples=300, deadline=None)
@given(rows=st.integers(1, 200_000), columns=st.integers(1, 18_278))
def test_a_dimension_rounded_up_is_no_less_and_within_the_limits_where_it_was(rows, columns):
    bound = preflight._rounded(rows, columns)
    assert bound[0] >= rows and bound[1] >= columns
    assert preflight._within_limits(*bound) == preflight._within_limits(rows, columns)


def test_the_dimensions_of_many_forms_round_to_a_few():
    dimensions = [(rows, columns) for rows in range(2, 100) for columns in (2, 17, 26)]
    assert {preflight._rounded(*dimension) for dimension in dimensions} == {(9, 26), (99, 26)}
    assert preflight._rounded(27, 1000) == (99, 1000)  # past two letters: the columns as they are
    assert preflight._rounded(3000, 1000) == (3000, 1000)  # 9,999 rows of 1,000 columns would pass the cell limit


@pytest.mark.parametrize("body,exact,rounded", [
    (b'<row r="2"><c r="B2"/><c r="C3"/></row>', True, True),
    (b'<row r="9"><c r="Z9" s="1"/></row>', False, True),  # past the dimension, within its rounding (9 rows, Z)
    (b'<row r="10"><c r="B10"/></row>', False, False),  # past the rounding: the tags are counted instead
    (b'<row r="2"><c r="AA2"/></row>', False, False),
    (b'<row r="2"><c r="B2" t="e"/></row>', False, False),  # an error value: the full scan
])
def test_a_sheet_within_its_rounded_dimension_is_plain_as_the_full_scan_finds_it(body, exact, rounded):
    xml = b'<worksheet><dimension ref="A1:C3"/><sheetData>' + body + b"</sheetData></worksheet>"
    assert (preflight._reach_within_dimension(xml, 0) is not None) == exact
    assert (preflight._within_rounded_dimension(xml, 0) is not None) == rounded
    preflight.forget()
    full = _outcome(lambda d: preflight._SheetScanner().scan_part(d), xml)
    assert preflight._is_plain(xml) == (full is not None and full[2:] == (set(), {}))
    preflight.forget()


def test_sheets_spelt_every_way_are_plain_by_the_rounded_dimension_only_where_the_full_scan_passes_them():
    """Whenever the rounded search answers, the element-by-element scan finds the sheet within the limits, with no
    error value or formula and a reach within the bound; and wherever the exact search answers, so does it."""
    import random
    rng = random.Random(25)
    answered = past = 0
    for _ in range(4000):
        plain = rng.random() < 0.7
        dimension = rng.choice(['<dimension ref="A1:C3"/>', '<dimension ref="A1:ALS11"/>', '<dimension ref="A1"/>',
                                '<dimension ref="B2:C12"/>', ""])
        rows = "".join(f'<row r="{rng.choice(["1", "2", "3", "9", "12", "99", "100"])}">'
                       + "".join(_cell(rng, plain) for _ in range(rng.randrange(4))) + "</row>" for _ in range(rng.randrange(4)))
        tail = rng.choice(["", "<!-- c -->", '<mergeCells count="1"><mergeCell ref="A1:B2"/></mergeCells>', '<x t="e"/>'])
        data = f'<worksheet xmlns="urn:m">{dimension}<sheetData>{rows}</sheetData>{tail}</worksheet>'.encode()
        found = preflight._plain(data, preflight._within_rounded_dimension)
        if preflight._plain_scan(data) is not None:
            assert found is not None, data
        if found is not None:
            answered += 1
            past += preflight._plain_scan(data) is None
            full = preflight._SheetScanner().scan_part(data)
            assert (full.errors, full.formulas) == (set(), {}) and full.rows <= found.rows and full.columns <= found.columns
    assert answered > 1000 and past > 20


# ---- a sheet found plain before is not scanned again; what is remembered is bounded ----

def test_a_sheet_found_plain_before_is_known_by_its_bytes(monkeypatch):
    preflight.forget()
    xml = b'<worksheet><dimension ref="A1:B2"/><sheetData><row r="1"><c r="B2" s="1"/></row></sheetData></worksheet>'
    assert preflight._is_plain(xml)
    monkeypatch.setattr(preflight, "_plain_scan", lambda data: pytest.fail("scanned again"))
    assert preflight._is_plain(bytes(bytearray(xml)))  # equal bytes, another object
    monkeypatch.undo()
    assert not preflight._is_plain(xml.replace(b's="1"', b't="e"'))
    preflight.forget()


def test_what_is_remembered_of_plain_sheets_is_bounded(monkeypatch):
    preflight.forget()
    monkeypatch.setattr(preflight, "MAX_KEPT_SHEETS", 2_000)
    for n in range(1, 40):
        assert preflight._is_plain(b'<worksheet><sheetData><row r="%d"/></sheetData></worksheet>' % n)
        assert preflight._plain_before.held <= 2_000
    preflight.forget()


def test_a_sheet_found_plain_is_found_again_under_other_limits(monkeypatch):
    preflight.forget()
    xml = b'<worksheet><dimension ref="A1:C300"/><sheetData><row r="300"><c r="C300"/></row></sheetData></worksheet>'
    assert preflight._is_plain(xml)
    monkeypatch.setattr(preflight, "MAX_ROWS", 100)
    assert not preflight._is_plain(xml)
    monkeypatch.undo()
    assert preflight._is_plain(xml)
    preflight.forget()


def test_the_same_workbook_twice_and_a_changed_copy_have_their_own_verdicts():
    import io
    import zipfile
    from assess_xl.publish import forms
    from assess_xl.rules import load
    preflight.forget()
    content = forms.build_forms(load.load(), ["甲区", "乙区"])[0].content
    first, again = preflight.check(content), preflight.check(content)
    assert not first.rejected and (first.format, first.saved, first.error_cells) == (again.format, again.saved, again.error_cells)
    source = zipfile.ZipFile(io.BytesIO(content))
    error_row = b'<sheetData><row r="1"><c r="A1" t="e"><v>#N/A</v></c></row>'
    changed = preflight.check(zip_of([(info.filename, source.read(info.filename).replace(b"<sheetData>", error_row, 1)
                                       if info.filename == "xl/worksheets/sheet2.xml" else source.read(info.filename))
                                      for info in source.infolist()]))
    assert not changed.rejected and "A1" in next(iter(cells for cells in changed.error_cells.values() if cells))
    preflight.forget()


@settings(max_examples=300, deadline=None)
@given(rows=st.integers(1, 100_000), columns=st.integers(1, 5_000), row=st.integers(1, 10_000_000),
       column=st.integers(1, 18_278), near=st.booleans())
def test_a_cell_or_row_tag_is_past_the_dimension_exactly_when_it_lies_past_it(rows, columns, row, column, near):
    from assess_xl.xlsx.layout import column_letters
    if near:  # at the bound, or just past it
        row, column = rows + row % 2, columns + column % 2
    pattern = preflight._not_plain_or_past(rows, columns)
    cell = f'<c r="{column_letters(column - 1)}{row}" s="3" t="s"><v>1</v></c>'.encode()
    assert (pattern.search(cell) is None) == (row <= rows and column <= columns)
    assert (pattern.search(f'<row r="{row}" spans="1:2">'.encode()) is None) == (row <= rows)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(st.sampled_from([b":", b":c ", b":c>", b":row/", b":f>", b":dimension ", b":x", b"a:b", b"<c r=\"A1\"/>",
                                        b"ref=\"A1:B2\"", b"x" * 50]), max_size=100),
       start=st.integers(0, 20), looks=st.sampled_from([0, 1, 3, 64]))
def test_prefixed_elements_are_found_as_the_regular_search_finds_them(pieces, start, looks):
    data = b"".join(pieces)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(preflight, "_COLON_LOOKS", looks)
        assert preflight._has_prefixed(data, start) == (preflight._PREFIXED.search(data, start) is not None)


# ---- verdicts that do not depend on the run ------------------------------------------------------

def test_a_workbook_with_two_faulty_parts_is_refused_for_the_first_in_the_archive_in_every_run():
    """Parts are checked in the archive's order, not in a set's, whose order changes with the hash seed."""
    import subprocess
    import sys
    faulty = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><worksheet/>'
    parts = [("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>")]
    parts += [(f"xl/worksheets/sheet{n}.xml", faulty) for n in (7, 3, 5, 1, 9, 2)]
    data = zip_of(parts)
    verdict = preflight.check(data)
    assert verdict.rejected_code == "xml_entities" and "xl/worksheets/sheet7.xml" in verdict.rejected
    script = ("import sys; from assess_xl.xlsx import preflight; "
              "print(preflight.check(sys.stdin.buffer.read()).rejected)")
    seen = {subprocess.run([sys.executable, "-c", script], input=data, capture_output=True, check=True,
                           env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout for seed in range(6)}
    assert seen == {verdict.rejected.encode() + b"\n"}


def test_an_archive_of_a_zip_version_zipfile_cannot_read_is_damaged():
    """zipfile raises NotImplementedError (not BadZipFile) for a central directory asking for a later version."""
    data = bytearray(zip_of([("xl/workbook.xml", b"<workbook/>")]))
    directory = data.index(b"PK\x01\x02")
    data[directory + 6:directory + 8] = (64).to_bytes(2, "little")  # version needed to extract: 6.4
    verdict = preflight.check(bytes(data))
    assert verdict.rejected_code == "zip_damaged"


# ---- a part other than a sheet found without declarations is not searched again; a changed one is ----

def test_a_part_found_without_declarations_is_known_by_its_bytes_and_a_declaring_one_never_is():
    preflight.forget()
    clean, declaring = b"<styleSheet><fonts/></styleSheet>", b'<!ENTITY e "x"><styleSheet/>'
    assert not preflight._declares(clean) and not preflight._declares(bytes(bytearray(clean)))
    assert clean in preflight._undeclared_before
    for _ in range(2):
        assert preflight._declares(declaring)
        assert preflight._declares(b"<!DOCTYPE s><styleSheet/>")
    assert not preflight._declares(b" " * 4096 + b"<!DOCTYPE s>")  # a DOCTYPE is looked for in the first 4 KB
    preflight.forget()
    assert not preflight._undeclared_before


def test_what_is_remembered_of_parts_without_declarations_is_bounded(monkeypatch):
    preflight.forget()
    monkeypatch.setattr(preflight, "MAX_KEPT_SHEETS", 2_000)
    for n in range(1, 60):
        assert not preflight._declares(b"<styleSheet><fonts count='%d'/></styleSheet>" % n)
        assert preflight._undeclared_before.held <= 2_000
    preflight.forget()


def test_a_workbook_whose_styles_gain_an_entity_declaration_after_a_clean_copy_is_refused():
    import io
    import zipfile
    from assess_xl.publish import forms
    from assess_xl.rules import load
    preflight.forget()
    content = forms.build_forms(load.load(), ["甲区", "乙区"])[0].content
    assert not preflight.check(content).rejected
    source = zipfile.ZipFile(io.BytesIO(content))
    changed = zip_of([(info.filename, source.read(info.filename).replace(b"<styleSheet", b'<!ENTITY e "x"><styleSheet', 1)
                       if info.filename == "xl/styles.xml" else source.read(info.filename)) for info in source.infolist()])
    refused = preflight.check(changed)
    assert refused.rejected_code == "xml_entities" and "xl/styles.xml" in refused.rejected
    assert not preflight.check(content).rejected
    preflight.forget()
