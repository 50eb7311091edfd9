"""The pre-flight on bytes alone: what it finds in XML parts and OLE records without any parser
(the end-to-end verdicts through `collect` are in tests/read/test_gather.py)."""
import pytest

from assess_xl.xlsx import preflight


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
