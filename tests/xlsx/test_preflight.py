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
