"""Hostile and broken input: every file gets a verdict, good files in the same run are still scored,
no input is changed, and the interpreter never dies."""
import hashlib
import io
import os
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner

from assess_xl.read import gather

from assess_xl.read import dispatch

from assess_xl.xlsx import preflight, sandbox
from assess_xl.cli import main
from assess_xl.demo import fill_workbook
from helpers import read_without_preflight, requires_soffice, set_saved_time, soffice_convert, soffice_resave, write_forms

DISTRICTS = ["甲区", "乙区"]


@pytest.fixture(scope="module")
def good(book, tmp_path_factory):
    """A blank form set and a correctly filled 办公室 copy (bytes)."""
    tmp = tmp_path_factory.mktemp("good")
    blank = write_forms(book, DISTRICTS, tmp / "blank")
    filled = tmp / "办公室-good.xlsx"
    fill_workbook(blank["办公室"], filled, {"办公室": {"1-1": {"甲区": "是", "乙区": "否"},
                                                   "1-2": {"甲区": "是", "乙区": "是"}}})
    return blank, filled.read_bytes()


def rezip(data: bytes, replace: dict | None = None, add: dict | None = None) -> bytes:
    """A copy of a zip with some members' bytes replaced (value: bytes or function of bytes) or added."""
    replace, add = replace or {}, add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename in replace:
                change = replace[info.filename]
                content = change(content) if callable(change) else change
            target.writestr(info.filename, content)
        for name, content in add.items():
            target.writestr(name, content)
    return out.getvalue()


def with_shared_strings(data: bytes, content: bytes) -> bytes:
    """Replace (or add, as openpyxl writes none here) the shared-strings part."""
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    if "xl/sharedStrings.xml" in names:
        return rezip(data, replace={"xl/sharedStrings.xml": content})
    return rezip(data, add={"xl/sharedStrings.xml": content})


def sheet_part(data: bytes, sheet: str = "办公室") -> str:
    parts = preflight._sheet_parts(zipfile.ZipFile(io.BytesIO(data)))
    return parts[sheet]


def run_inbox(book, tmp_path, good_bytes, bad: dict[str, bytes]):
    """An inbox with the good file and the bad ones; read it back and check nothing was changed."""
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    (inbox / "good.xlsx").write_bytes(good_bytes)
    for name, content in bad.items():
        (inbox / name).write_bytes(content)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.iterdir()}
    result = read_paths([inbox], book)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in inbox.iterdir()} == before
    assert result.values.loc["甲区", "1-1"] == 1 and result.values.loc["乙区", "1-1"] == 0  # good still read
    return result


def verdict(result, name):
    (report,) = [r for r in result.files if r.info.name.endswith(name)]
    messages = [p.message for p in result.problems if p.file.endswith(name)]
    return report, messages


def codes(result, name) -> set[str]:
    """The catalogue codes of the problems found in one file (tests assert codes, not wording)."""
    return {p.kind for p in result.problems if p.file.endswith(name)}


# ---- 1. not a workbook -------------------------------------------------------------------

@pytest.mark.parametrize("name,content,expected", [
    ("empty.xlsx", b"", "empty_file"),
    ("table.xlsx", "区,1-1\n甲区,是\n".encode("utf-8"), "not_a_workbook"),
    ("page.xls", b"<html><body><table><tr><td>1</td></tr></table></body></html>", "html"),
    ("corrupt.xlsx", b"PK\x03\x04" + os.urandom(2000), "zip_damaged"),
    ("doc.pdf.xlsx", b"%PDF-1.4 x", "pdf"),
])
def test_not_a_workbook(book, tmp_path, good, name, content, expected):
    result = run_inbox(book, tmp_path, good[1], {name: content})
    report, _ = verdict(result, name)
    assert report.status == "已拒绝" and codes(result, name) == {expected}


def test_truncated_download(book, tmp_path, good):
    result = run_inbox(book, tmp_path, good[1], {"half.xlsx": good[1][: len(good[1]) // 2]})
    report, _ = verdict(result, "half.xlsx")
    assert report.status == "已拒绝" and "文件已损坏" in report.reason


# ---- 2. other formats ----------------------------------------------------------------------

@requires_soffice
@pytest.mark.parametrize("suffix,fmt", [("xls", "xls"), ("ods", "ods")])
def test_other_formats_are_read(book, tmp_path, good, suffix, fmt):
    source = tmp_path / "dept.xlsx"
    fill_workbook(good[0]["开发处"], source, {"开发处": {"6-1": {"甲区": "2", "乙区": "0"}}})
    converted = soffice_convert(source, tmp_path / "conv", suffix).read_bytes()
    result = run_inbox(book, tmp_path, good[1], {f"dept.{suffix}": converted})
    report, messages = verdict(result, f"dept.{suffix}")
    assert report.status == "已读取" and report.info.format == fmt and report.supplied == ["开发处"]
    assert list(result.values["6-1"]) == [2, 0]
    assert any(f"文件为{fmt}格式" in m for m in messages)


def test_xlsm_values_read_macros_noted(book, tmp_path, good):
    macro = rezip(good[1], add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 fake macro storage"})
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "macro.xlsm").write_bytes(macro)
    result = read_paths([inbox], book)
    report, messages = verdict(result, "macro.xlsm")
    assert report.info.macros and report.status == "已读取" and report.supplied == ["办公室"]
    assert any("含宏" in m and "未运行" in m for m in messages)


def test_xlsb_is_refused_as_a_format_not_as_damage(book, tmp_path, good):
    fake = rezip(good[1], add={"xl/workbook.bin": b"\x00" * 64})
    result = run_inbox(book, tmp_path, good[1], {"bin.xlsb": fake})
    report, messages = verdict(result, "bin.xlsb")
    assert report.status == "已拒绝" and codes(result, "bin.xlsb") == {"xlsb_unsupported"}
    assert "不支持.xlsb格式，请另存为.xlsx" in report.reason and "损坏" not in report.reason


# ---- 3. encrypted ---------------------------------------------------------------------------

def test_encrypted(book, tmp_path, good):
    from msoffcrypto.format.ooxml import OOXMLFile
    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(good[1])).encrypt("1234", encrypted)
    result = run_inbox(book, tmp_path, good[1], {"locked.xlsx": encrypted.getvalue()})
    report, _ = verdict(result, "locked.xlsx")
    assert report.status == "已拒绝" and "encrypted" in codes(result, "locked.xlsx")


# ---- 4. zip bombs -------------------------------------------------------------------------

def test_zip_bomb_single_member(book, tmp_path, good):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<x>" + b"0" * (120 * 1024 * 1024) + b"</x>")
    assert len(bomb.getvalue()) < 1024 * 1024
    result = run_inbox(book, tmp_path, good[1], {"bomb.xlsx": bomb.getvalue()})
    report, _ = verdict(result, "bomb.xlsx")
    assert report.status == "已拒绝" and codes(result, "bomb.xlsx") == {"zip_bomb"}


def test_zip_many_members(book, tmp_path, good):
    many = rezip(good[1], add={f"xl/media/m{i}.bin": b"" for i in range(20_000)})
    result = run_inbox(book, tmp_path, good[1], {"many.xlsx": many})
    report, _ = verdict(result, "many.xlsx")
    assert report.status == "已拒绝" and "20" in report.reason and "部件" in report.reason


def test_zip_member_size_lies(book, tmp_path, good):
    data = bytearray(good[1])
    part = sheet_part(good[1]).encode()
    # find the sheet's central directory entry and shrink its declared uncompressed size
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_len = int.from_bytes(data[at + 28:at + 30], "little")
        if bytes(data[at + 46:at + 46 + name_len]) == part:
            data[at + 24:at + 28] = (10).to_bytes(4, "little")
            break
        at = data.find(b"PK\x01\x02", at + 4)
    assert at != -1
    result = run_inbox(book, tmp_path, good[1], {"liar.xlsx": bytes(data)})
    report, _ = verdict(result, "liar.xlsx")
    assert report.status == "已拒绝" and "损坏" in report.reason


# ---- 5. XML attacks -----------------------------------------------------------------------

LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
          + b']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>')
EXTERNAL = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&xxe;</t></si></sst>')


@pytest.mark.parametrize("payload", [LAUGHS, EXTERNAL], ids=["billion-laughs", "external-entity"])
def test_xml_entities_refused(book, tmp_path, good, payload):
    import time
    evil = with_shared_strings(good[1], payload)
    started = time.perf_counter()
    result = run_inbox(book, tmp_path, good[1], {"evil.xlsx": evil})
    assert time.perf_counter() - started < 30
    report, _ = verdict(result, "evil.xlsx")
    assert report.status == "已拒绝" and codes(result, "evil.xlsx") == {"xml_entities"}


# ---- 6. parser-crashing sizes -------------------------------------------------------------

def test_far_cell(book, tmp_path, good):
    part = sheet_part(good[1])
    far = rezip(good[1], replace={part: lambda x: x.replace(b"</sheetData>",
                                                            b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')})
    result = run_inbox(book, tmp_path, good[1], {"far.xlsx": far})
    report, _ = verdict(result, "far.xlsx")
    assert report.status == "已拒绝" and codes(result, "far.xlsx") == {"sheet_part_too_large"}


def test_shared_string_count_lies(book, tmp_path, good):
    lie = with_shared_strings(good[1], b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
                                       b'spreadsheetml/2006/main" count="1" uniqueCount="1000000000000"><si><t>x</t></si></sst>')
    result = run_inbox(book, tmp_path, good[1], {"sst.xlsx": lie})
    report, _ = verdict(result, "sst.xlsx")
    assert report.status == "已拒绝" and codes(result, "sst.xlsx") == {"shared_strings"}


# ---- 7. not our form, or an altered one ------------------------------------------------------

def test_foreign_workbook(book, tmp_path, good):
    other = openpyxl.Workbook()
    other.active["A1"] = "工资表"
    buffer = io.BytesIO()
    other.save(buffer)
    result = run_inbox(book, tmp_path, good[1], {"salary.xlsx": buffer.getvalue()})
    report, messages = verdict(result, "salary.xlsx")
    assert report.status == "非填报表" and any("不是考核填报表" in m for m in messages)


def _altered(good, tmp_path, edit) -> bytes:
    workbook = openpyxl.load_workbook(io.BytesIO(good[1]))
    edit(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_codes_duplicated_and_districts_duplicated(book, tmp_path, good):
    def edit(workbook):
        ws = workbook["办公室"]
        ws["A5"] = "1-1"       # 1-2's row now claims to be 1-1: both rows refused
        ws["I3"] = "甲区"      # two 甲区 columns
    result = run_inbox(book, tmp_path, good[1], {"dup.xlsx": _altered(good, tmp_path, edit)})
    kinds = {(p.kind, p.file) for p in result.problems}
    assert ("code_duplicate", "inbox/dup.xlsx") in kinds and ("district_duplicate", "inbox/dup.xlsx") in kinds


def test_sheet_renamed_and_hidden(book, tmp_path, good):
    def edit(workbook):
        workbook["办公室"].title = "Sheet1"
    renamed = _altered(good, tmp_path, edit)

    def hide(workbook):
        workbook["办公室"].sheet_state = "hidden"
    hidden = _altered(good, tmp_path, hide)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "renamed.xlsx").write_bytes(renamed)
    result = read_paths([inbox], book)
    assert any(p.kind == "sheet_renamed" and p.sheet == "Sheet1" for p in result.problems)
    assert result.values.loc["甲区", "1-1"] == 1
    (inbox / "renamed.xlsx").unlink()
    (inbox / "hidden.xlsx").write_bytes(hidden)
    result = read_paths([inbox], book)
    assert any(p.kind == "sheet_hidden" for p in result.problems) and result.values.loc["甲区", "1-1"] == 1


def test_two_copies_of_a_department_in_one_file(book, tmp_path, good):
    def edit(workbook):
        copy = workbook.copy_worksheet(workbook["办公室"])
        copy.title = "办公室 (2)"
    result = run_inbox(book, tmp_path, good[1], {"twice.xlsx": _altered(good, tmp_path, edit)})
    assert any(p.kind == "sheet_duplicate" and p.file == "inbox/twice.xlsx" for p in result.problems)


# ---- 8. cells -------------------------------------------------------------------------------

@requires_soffice
def test_formulas_and_error_values_after_resave(book, tmp_path, good):
    source = tmp_path / "f.xlsx"
    fill_workbook(good[0]["开发处"], source, {"开发处": {"7-1": {"甲区": "是", "乙区": "是"}}})
    workbook = openpyxl.load_workbook(source)
    ws = workbook["开发处"]
    ws["H4"], ws["I4"], ws["H5"] = "=1+1", "=1/0", "=1+1"
    workbook.save(source)
    no_cache = read_paths([source], book)
    assert any(p.kind == "formula_no_value" and p.cell == "H4" for p in no_cache.problems)
    resaved = soffice_resave(source, tmp_path / "re")
    result = read_paths([resaved], book)
    by_cell = {(p.kind, p.cell) for p in result.problems}
    assert ("formula_cached", "H4") in by_cell and ("error_value", "I4") in by_cell
    assert result.values.loc["甲区", "6-1"] == 2
    assert ("bool_invalid", "H5") in by_cell  # a formula's cached 2 is still not a 是/否


def test_typed_oddities(book, tmp_path, good):
    from datetime import datetime
    source = tmp_path / "odd.xlsx"
    workbook = openpyxl.load_workbook(good[0]["环监局"])
    ws = workbook["环监局"]
    rows = {ws.cell(r, 1).value: r for r in range(4, ws.max_row + 1)}
    cells = {("17-2", 8): datetime(2007, 3, 1), ("17-2", 9): "１２", ("18-1", 8): "\u00a03\u00a0",
             ("18-1", 9): "NaN", ("18-2", 8): "inf", ("18-2", 9): 1e300, ("19-1", 8): -1, ("19-1", 9): 2.5,
             ("19-2", 8): "9" * 40000}
    for (code, col), value in cells.items():
        ws.cell(rows[code], col).value = value
    ws.merge_cells(start_row=rows["20-1"], start_column=8, end_row=rows["20-1"], end_column=9)
    workbook.save(source)
    result = read_paths([source], book)
    got = {(p.code, p.district): p.kind for p in result.problems if p.code}
    assert got[("17-2", "甲区")] == "date_in_number" and got[("17-2", "乙区")] == "number_as_text"
    assert result.values.loc["乙区", "17-2"] == 12 and result.values.loc["甲区", "18-1"] == 3
    assert got[("18-1", "乙区")] == "not_a_number" and got[("18-2", "甲区")] == "not_a_number"
    assert got[("18-2", "乙区")] == "out_of_bounds" and got[("19-1", "甲区")] == "negative"
    assert got[("19-1", "乙区")] == "not_integer" and got[("19-2", "甲区")] == "text_too_long"
    assert any(p.kind == "merged_input" and p.cell == f"H{rows['20-1']}" for p in result.problems)
    long_raw = next(p.raw for p in result.problems if p.kind == "text_too_long")
    assert len(long_raw) < 300


# ---- 9. files -------------------------------------------------------------------------------

def test_symlink_duplicates_and_same_file_twice(book, tmp_path, good):
    outside = tmp_path / "outside.xlsx"
    outside.write_bytes(good[1])
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.xlsx").write_bytes(good[1])
    (inbox / "b-copy.xlsx").write_bytes(good[1])
    (inbox / "link.xlsx").symlink_to(outside)
    result = read_paths([inbox, inbox / "a.xlsx"], book)
    names = {r.info.name: r.status for r in result.files}
    assert names == {"inbox/a.xlsx": "已读取", "inbox/b-copy.xlsx": "重复"}
    assert ("inbox/link.xlsx", "skip_symlink") in {(s.name, s.code) for s in result.skipped}
    assert any(skip.code == "skip_same_path" for skip in result.skipped)
    assert result.values.loc["甲区", "1-1"] == 1


def test_other_files_in_a_folder_are_listed_not_read(book, tmp_path, good):
    result = run_inbox(book, tmp_path, good[1], {"说明.docx": b"PK\x03\x04 word", "notes.txt": b"hello"})
    assert ("inbox/notes.txt", "skip_suffix") in {(s.name, s.code) for s in result.skipped}
    assert any(skip.name == "inbox/说明.docx" for skip in result.skipped)
    assert [r.info.name for r in result.files] == ["inbox/good.xlsx"]


def test_unreadable_file(tmp_path, monkeypatch):
    """A file the run may not read is rejected with the reason (checked in-process: tests run as root)."""
    path = tmp_path / "secret.xlsx"
    path.write_bytes(b"PK\x03\x04")
    real_open = os.open

    def guarded(target, *args, **kwargs):
        if str(target).endswith("secret.xlsx"):
            raise PermissionError(13, "Permission denied")
        return real_open(target, *args, **kwargs)
    monkeypatch.setattr(gather.os, "open", guarded)
    info = gather.load(path, "secret.xlsx")
    assert "没有读取该文件的权限" in info.rejected and info.data == b""


def test_folder_of_thousands(book, tmp_path, good):
    junk = {f"junk{i:04d}.xlsx": f"not a workbook {i}".encode() for i in range(2500)}
    result = run_inbox(book, tmp_path, good[1], junk)
    assert sum(r.status == "已拒绝" for r in result.files) == 2500


def test_exit_status_not_clean(book, tmp_path, good):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "good.xlsx").write_bytes(good[1])
    (inbox / "empty.xlsx").write_bytes(b"")
    out = tmp_path / "r.xlsx"
    result = CliRunner().invoke(main, ["collect", str(inbox), "-o", str(out)])
    assert result.exit_code == 1 and out.exists()
    sources = [[c.value for c in row] for row in openpyxl.load_workbook(out)["来源"].iter_rows(min_row=2)]
    assert any(r[0] == "inbox/empty.xlsx" and r[6] == "已拒绝" and "文件是空的" in r[10] for r in sources)


# ---- random input ---------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from helpers import read_paths


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(["bytes", "zip", "mutated"]), seed=st.binary(min_size=1, max_size=4000),
       position=st.floats(0, 1), flip=st.integers(1, 255))
def test_random_input_always_gets_a_verdict(book, tmp_path_factory, good, kind, seed, position, flip):
    import time
    if kind == "bytes":
        data = seed
    elif kind == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for i in range(1 + len(seed) % 5):
                archive.writestr(["xl/workbook.xml", "xl/sharedStrings.xml", "xl/worksheets/sheet1.xml",
                                  "[Content_Types].xml", f"x{i}"][i], seed[i::5])
        data = buffer.getvalue()
    else:
        raw = bytearray(zipfile.ZipFile(io.BytesIO(good[1])).read(sheet_part(good[1])))
        at = int(position * (len(raw) - 1))
        raw[at] = (raw[at] + flip) % 256
        data = rezip(good[1], replace={sheet_part(good[1]): bytes(raw)})
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "x.xlsx").write_bytes(data)
    started = time.perf_counter()
    result = read_paths([folder], book)
    assert time.perf_counter() - started < 90
    assert len(result.files) == 1 and result.files[0].status in ("已读取", "已拒绝", "非填报表", "其他细则")


def test_parser_crash_is_contained(book, tmp_path, good):
    """Past the pre-flight (switched off in the child here), a file that aborts python-calamine only
    kills a child: the verdict is that file's, and the good file beside it is read."""
    lie = with_shared_strings(good[1], b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/'
                                       b'spreadsheetml/2006/main" count="1" uniqueCount="1000000000000"><si><t>x</t></si></sst>')
    (tmp_path / "crash.xlsx").write_bytes(lie)
    (tmp_path / "good.xlsx").write_bytes(good[1])
    items = [(str(tmp_path / "crash.xlsx"), "crash.xlsx"), (str(tmp_path / "good.xlsx"), "good.xlsx")]
    crashed, read = sandbox.run_isolated(read_without_preflight, items, (book,))
    assert crashed == sandbox.Failure("crash", "SIGABRT")
    assert read.status == "已读取" and read.sheets
    assert "解析程序崩溃（信号SIGABRT" in dispatch._failed(tmp_path / "crash.xlsx", "crash.xlsx", crashed).reason


# ---- saved times of .xls and .ods (issue 9, point 2) -----------------------------------------

@requires_soffice
@pytest.mark.parametrize("suffix", ["xls", "ods"])
def test_saved_time_decides_for_xls_and_ods(book, tmp_path, good, suffix):
    """The final is saved later; the draft's file was touched later (copied, e-mailed): the final wins."""
    drafts = tmp_path / "src"
    drafts.mkdir()
    for name, value, saved in (("draft", "9", "2008-01-05T08:00:00Z"), ("final", "2", "2008-01-06T08:00:00Z")):
        fill_workbook(good[0]["开发处"], drafts / f"{name}.xlsx", {"开发处": {"6-1": {"甲区": value, "乙区": "0"}}})
        set_saved_time(drafts / f"{name}.xlsx", saved)
    inbox = tmp_path / "inbox"
    for name in ("draft", "final"):
        soffice_convert(drafts / f"{name}.xlsx", inbox, suffix)
    os.utime(inbox / f"final.{suffix}", (1_300_000_000, 1_300_000_000))
    os.utime(inbox / f"draft.{suffix}", (1_400_000_000, 1_400_000_000))
    result = read_paths([inbox], book)
    assert result.values.loc["甲区", "6-1"] == 2
    saved = {r.info.name: r.info.saved for r in result.files}
    assert saved[f"inbox/final.{suffix}"].isoformat().startswith("2008-01-06T08:00")
    assert saved[f"inbox/draft.{suffix}"].isoformat().startswith("2008-01-05T08:00")


@requires_soffice
def test_xls_whose_text_says_encrypt_is_not_encrypted(book, tmp_path, good):
    """The old check searched the whole file for "Encrypt"; the OLE directory and FILEPASS decide now."""
    source = tmp_path / "dept.xlsx"
    fill_workbook(good[0]["开发处"], source, {"开发处": {"6-1": {"甲区": "2", "乙区": "0"}}})
    workbook = openpyxl.load_workbook(source)
    workbook["开发处"]["A1"] = "Encryption 说明 EncryptionInfo Encrypt"
    workbook.save(source)
    converted = soffice_convert(source, tmp_path / "conv", "xls")
    info = gather.load(converted, "dept.xls")
    gather.inspect(info)
    assert info.rejected == "" and info.format == "xls"


def test_encrypted_ooxml_is_still_recognised(tmp_path, good):
    import msoffcrypto
    source, target = io.BytesIO(good[1]), io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(source).encrypt("1234", target)
    (tmp_path / "locked.xlsx").write_bytes(target.getvalue())
    info = gather.load(tmp_path / "locked.xlsx", "locked.xlsx")
    gather.inspect(info)
    assert "文件已加密" in info.rejected


def test_a_broken_ole_container_is_rejected(tmp_path):
    """OLE magic followed by nothing usable: the directory cannot be read, so it is not taken for an .xls."""
    data = bytearray(preflight.OLE_MAGIC + b"\x00" * 504)
    (tmp_path / "doc.xls").write_bytes(bytes(data))
    info = gather.load(tmp_path / "doc.xls", "doc.xls")
    gather.inspect(info)
    assert info.rejected and info.format == ""


def test_unreadable_subfolder_is_listed(tmp_path, monkeypatch):
    """A folder the run may not enter is named in 来源 (checked by refusing it: tests run as root)."""
    (tmp_path / "inbox" / "secret").mkdir(parents=True)
    (tmp_path / "inbox" / "a.xlsx").write_bytes(b"x")
    real_scandir = os.scandir

    def scandir(path="."):
        if str(path).endswith("secret"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)
    monkeypatch.setattr(os, "scandir", scandir)
    found, skipped = gather.gather([tmp_path / "inbox"])
    assert [name for _, name in found] == ["inbox/a.xlsx"]
    assert [(s.name, s.code) for s in skipped] == [("inbox/secret", "skip_unreadable_folder")]


def test_a_file_of_a_folder_reached_through_a_link_is_the_file_given_by_its_real_path(tmp_path):
    """A walked file's real path is its folder's real path and its name: the same file given again by its
    real path is skipped as the same path, and a link inside the folder is skipped as a link."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.xlsx").write_bytes(b"x")
    (tmp_path / "via").symlink_to(real, target_is_directory=True)
    (real / "link.xlsx").symlink_to(real / "a.xlsx")
    found, skipped = gather.gather([tmp_path / "via", real / "a.xlsx"])
    assert [name for _, name in found] == ["via/a.xlsx"]
    assert {(s.name, s.code) for s in skipped} == {("via/link.xlsx", "skip_symlink"), (str(real / "a.xlsx"), "skip_same_path")}


def test_a_file_record_comes_back_from_a_child_as_it_was_sent():
    """A FileInfo is pickled compactly (its path as text, times in UTC without their timezone): every field comes
    back equal and of its type, times in UTC, at another offset or without a timezone included."""
    import pickle
    from datetime import datetime, timedelta, timezone
    from pathlib import Path
    east8 = timezone(timedelta(hours=8))
    info = gather.FileInfo(Path("/in/收件/a.xlsx"), "收件/a.xlsx", "ab" * 32, 9068,
                           modified=datetime(2026, 12, 4, 15, 27, 55, 90768, tzinfo=timezone.utc),
                           saved=datetime(2007, 1, 5, 8, 0, tzinfo=east8), saved_ignored="9999-01-01T00:00:00",
                           format="xlsm", rejected="拒绝", macros=True, rejected_code="too_large",
                           mailed=datetime(2008, 1, 6, 8, 0), received=datetime(2008, 1, 6, 9, 0, fold=1, tzinfo=timezone.utc),
                           envelope="发件人", sender="a@b.cn", error_cells={"表": {"A1"}}, formula_cells={"表": {"B2": "=1"}})
    for sent in (info, gather.FileInfo(Path("a.xlsx"), "a.xlsx")):
        back = pickle.loads(pickle.dumps(sent, pickle.HIGHEST_PROTOCOL))
        assert back == sent and repr(back) == repr(sent) and type(back.path) is type(sent.path)
        assert [getattr(back, name) for name in ("modified", "saved", "mailed", "received")] == [
            getattr(sent, name) for name in ("modified", "saved", "mailed", "received")]
    assert b"pathlib" not in pickle.dumps(info)  # not rebuilt from each of its parts
    back = pickle.loads(pickle.dumps(info))
    assert back.modified.tzinfo is timezone.utc and back.saved.tzinfo == east8 and back.mailed.tzinfo is None
    assert back.received.fold == 1
