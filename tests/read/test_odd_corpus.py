"""A small corpus of odd files as real programs and people make them (spellings of the XML that other
writers use, formats we do not read, mail saved in odd ways), mixed with good returns and run through
`assess-xl collect`: every odd file gets exactly its own verdict and the totals are those of the good
returns alone. All files are generated here."""
import io
import re
import zipfile

import openpyxl
import pytest

from test_hostile_units import baseline, collect, good_mails, mbox, returns  # noqa: F401  shared fixtures


def rewrite_sheets(data: bytes, change) -> bytes:
    """A copy of a workbook with every worksheet part's XML passed through `change`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                content = change(content)
            target.writestr(info, content)
    return out.getvalue()


def single_quoted(xml: bytes) -> bytes:
    return re.sub(rb'(\s[\w:]+)="([^"]*)"', rb"\1='\2'", xml)


def without_references(xml: bytes) -> bytes:
    """Rows and cells without r="…", as some generators write them (each follows the one before)."""
    return re.sub(rb'(<(?:row|c)\b[^>]*?)\sr="[^"]*"', rb"\1", xml)


def prefixed(xml: bytes) -> bytes:
    """Every element in the x: prefix, as the Open XML SDK writes SpreadsheetML."""
    xml = re.sub(rb"<(/?)(?!\?)(?!x:)([A-Za-z]+)([\s>/])", rb"<\1x:\2\3", xml)
    return xml.replace(b'<x:worksheet xmlns="', b'<x:worksheet xmlns:x="', 1)


def lying_dimension(xml: bytes) -> bytes:
    return re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', xml)


def corpus(good: bytes) -> dict[str, bytes]:
    bom_csv = "\ufeff区,1-1\n甲区,是\n".encode("utf-8")
    return {
        "单引号.xlsx": rewrite_sheets(good, single_quoted),
        "无地址.xlsx": rewrite_sheets(good, without_references),
        "前缀.xlsx": rewrite_sheets(good, prefixed),
        "范围声明过大.xlsx": rewrite_sheets(good, lying_dimension),
        "二进制.xlsb": zipfile_with(good, "xl/workbook.bin", b"\x83\x01\x00"),
        "导出的网页.xls": b"<html><head><meta charset='utf-8'></head><body><table><tr><td>1</td></tr></table></body></html>",
        "改名的表格.xls": bom_csv,
        "只有一半.xlsx": good[: len(good) // 3],
        "空文件.xlsx": b"",
    }


def zipfile_with(data: bytes, name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        target.writestr(name, content)
    return out.getvalue()


def test_odd_files_beside_good_returns(returns, baseline, tmp_path):  # noqa: F811
    """The odd copies are of the 办公室 return, but each is a different file: any it reads agrees with
    the good one, so the totals are unchanged; each odd file has one row in 来源 and none crashes the run."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, data in returns.items():
        (inbox / f"{name}.xlsx").write_bytes(data)
    odd = corpus(returns["bgs"])
    for name, data in odd.items():
        (inbox / name).write_bytes(data)
    one, two = good_mails(returns)
    (inbox / "crlf.mbox").write_bytes(mbox([one, two]).replace(b"\n", b"\r\n"))
    (inbox / "thunderbird.eml").write_bytes(b"From - Mon Jan  7 09:00:00 2008\n" + one)
    done, totals, rows = collect([inbox], tmp_path / "out.xlsx")
    assert totals == baseline
    said = "\n".join(f"{row['文件']}：{row['说明']}" for row in rows)
    for name in ("二进制.xlsb", "导出的网页.xls", "改名的表格.xls", "只有一半.xlsx", "空文件.xlsx", "范围声明过大.xlsx"):
        assert f"inbox/{name}：" in said, name
    assert "不支持.xlsb格式" in said and "1048576" in said
    sources = openpyxl.load_workbook(tmp_path / "out.xlsx", read_only=True)["来源"]
    listed = {str(value) for row in sources.iter_rows(values_only=True) for value in row}
    for name in ("单引号.xlsx", "无地址.xlsx", "前缀.xlsx", "crlf.mbox#1 › bgs.xlsx", "crlf.mbox#2 › kfc.xlsx",
                 "thunderbird.eml › bgs.xlsx", *odd):
        assert f"inbox/{name}" in listed, name  # each has its row in 来源
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize("change", [single_quoted, without_references, prefixed])
def test_equivalent_spellings_read_as_the_original(returns, baseline, tmp_path, change):  # noqa: F811
    """The same return in another spelling of the XML gives the same totals on its own."""
    (tmp_path / "kfc.xlsx").write_bytes(returns["kfc"])
    (tmp_path / "bgs.xlsx").write_bytes(rewrite_sheets(returns["bgs"], change))
    _, totals, rows = collect([tmp_path / "kfc.xlsx", tmp_path / "bgs.xlsx"], tmp_path / "out.xlsx")
    assert totals == baseline, "\n".join(str(row) for row in rows[:5])
