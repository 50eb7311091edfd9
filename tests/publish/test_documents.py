"""The result as documents: the official PDF (LibreOffice) and a notice per district (python-docx)."""
import io
import os
import re
import subprocess
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner

from assess_xl import pipeline

from assess_xl.publish import documents as publish

from assess_xl.publish import scorecard as report
from assess_xl.cli import main
from helpers import SOFFICE

requires_soffice = pytest.mark.skipif(SOFFICE is None and os.environ.get("CI") != "true",
                                      reason="LibreOffice (soffice) is not installed; .ci/run installs it")


@pytest.fixture(scope="module")
def demo(book, tmp_path_factory):
    folder = tmp_path_factory.mktemp("publish")
    assert CliRunner().invoke(main, ["demo", "-o", str(folder / "demo")]).exit_code == 0
    result = pipeline.collect([folder / "demo" / "2-交回的填报表"], book)
    return folder, result


def test_working_sheets_are_hidden_in_the_copy_printed(demo):
    _, result = demo
    workbook = openpyxl.load_workbook(io.BytesIO(publish.official_only(result.content)))
    visible = [ws.title for ws in workbook.worksheets if ws.sheet_state == "visible"]
    assert visible == ["汇总", *result.scores.totals.sort_values("排名", kind="stable").index]
    with zipfile.ZipFile(io.BytesIO(publish.official_only(result.content))) as archive:
        assert "xl/charts/chart1.xml" in archive.namelist()  # the chart is kept


def test_only_scorecards_are_recognised(demo):
    folder, result = demo
    (folder / "junk.xlsx").write_bytes(b"not a zip")
    assert publish.own_scorecard(folder / "demo" / "3-考核结果.xlsx") == (folder / "demo" / "3-考核结果.xlsx").read_bytes()
    assert publish.external_targets(result.content) == []
    for other in (folder / "demo" / "2-交回的填报表" / "开发处-已填.xlsx", folder / "junk.xlsx"):
        with pytest.raises(publish.PublishError):
            publish.own_scorecard(other)


def pdf_pages(pdf: bytes, tmp_path) -> list[str]:
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1]


@requires_soffice
def test_pdf_holds_the_official_part_in_order(demo, tmp_path):
    _, result = demo
    pdf = publish.official_pdf(result.content)
    pages = pdf_pages(pdf, tmp_path)
    ranked = result.scores.totals.sort_values("排名", kind="stable")
    first = pages[0]
    assert "考核结果汇总" in first and first.count("年度") == 1 and "（盖章）" in first
    lines = [line.strip() for line in first.splitlines()]
    positions = [next(n for n, line in enumerate(lines) if line.startswith(district)) for district in ranked.index]
    assert positions == sorted(positions)  # ranked order
    for district, row in ranked.iterrows():
        line = next(line for line in first.splitlines() if line.strip().startswith(district))
        assert f"{row['总分']:.2f}" in line and re.search(rf"\s{int(row['排名'])}\s", line)
    owners = [next(line.split("——")[0].strip() for line in page.splitlines() if "——" in line) for page in pages[1:]]
    assert list(dict.fromkeys(owners)) == list(ranked.index)  # each district on its own pages, in rank order
    assert owners == sorted(owners, key=list(ranked.index).index)  # never interleaved
    assert len(pages) == 1 + len(owners)  # 汇总 (one page for the demo) and the district pages, nothing else
    assert not re.search(r"\b[0-9a-f]{64}\b", "".join(pages)) and "问题清单" not in "".join(pages)
    path = tmp_path / "r.pdf"
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert "CJK" in fonts and all(" yes " in line for line in fonts.splitlines()[2:])
    subprocess.run(["pdftoppm", "-r", "30", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "p")], check=True)
    assert (tmp_path / "p-01.png").stat().st_size > 1000


def test_notice_of_each_district(demo, book):
    from docx import Document
    _, result = demo
    signed = report.Signature("某市环境保护局", "2008年1月20日")
    documents = publish.notices(book, result.scores, result.explanations, signed)
    assert set(documents) == set(result.scores.districts)
    for district, content in documents.items():
        document = Document(io.BytesIO(content))
        paragraphs = [p.text for p in document.paragraphs]
        text = "\n".join(paragraphs)
        totals = result.scores.totals.loc[district]
        assert paragraphs[0] == f"关于2007年度{district}环保目标考核结果的通报"
        assert f"{district}环保局：" in paragraphs
        assert f"总分{publish.fmt_number(totals['总分'])}分" in text and f"排名第{int(totals['排名'])}位" in text
        lost = publish.points_lost(book, result.scores, result.explanations, district)
        assert lost and all(line in paragraphs for line in lost)
        assert paragraphs[-2:] == ["某市环境保护局", "2008年1月20日"]
        table = document.tables[0]
        assert [c.text for c in table.rows[0].cells] == ["类别", "分值", "得分"] and len(table.rows) == 1 + 18 + 3
        assert paragraphs[0] and document.paragraphs[0].style.name == "通报标题"


def test_points_lost_name_missing_targets(demo, book):
    _, result = demo
    district = result.scores.totals[result.scores.totals["缺报项数"] > 0].index[0]
    lines = publish.points_lost(book, result.scores, result.explanations, district)
    assert any("缺报" in line for line in lines)


def test_collect_writes_pdf_and_notices(tmp_path, demo):
    folder, _ = demo
    inbox = folder / "demo" / "2-交回的填报表"
    result = CliRunner().invoke(main, ["collect", str(inbox), "-o", str(tmp_path / "r.xlsx"), "--notices",
                                       str(tmp_path / "通报"), "--issuer", "南京市环境保护局"])
    assert result.exit_code == 1 and "各区通报已写入" in result.output
    assert len(list((tmp_path / "通报").glob("*.docx"))) == 6
    assert openpyxl.load_workbook(tmp_path / "r.xlsx")["汇总"]["A2"].value.startswith("南京市环境保护局")


def test_without_libreoffice_the_rest_still_works(tmp_path, demo, monkeypatch):
    folder, _ = demo
    monkeypatch.setattr(publish, "soffice_path", lambda: None)
    inbox = folder / "demo" / "2-交回的填报表"
    result = CliRunner().invoke(main, ["collect", str(inbox), "-o", str(tmp_path / "r.xlsx"), "--pdf"])
    assert result.exit_code == 1 and (tmp_path / "r.xlsx").exists() and not (tmp_path / "r.pdf").exists()
    assert "apt-get install libreoffice-calc-nogui" in result.output
    alone = CliRunner().invoke(main, ["pdf", str(tmp_path / "r.xlsx")])
    assert alone.exit_code == 2 and "没有找到LibreOffice" in alone.output


def test_pdf_command_refuses_other_workbooks(tmp_path, demo):
    folder, _ = demo
    result = CliRunner().invoke(main, ["pdf", str(folder / "demo" / "2-交回的填报表" / "开发处-已填.xlsx")])
    assert result.exit_code == 2 and "不是本工具生成的考核结果" in result.output


def test_notices_from_one_parsed_template_are_the_same_documents_as_from_fresh_copies(tmp_path, demo, book):
    """collect --notices parses the template once, resolves its styles once and rewrites the body for each
    district, copying the paragraphs and the table python-docx made for the first: every notice holds exactly
    the parts (bytes) of one written from its own fresh copy of the template with python-docx's own style
    lookup for each paragraph and its own table; only the zip entries' times may differ."""
    from datetime import datetime

    from helpers import assess_xl
    folder, result = demo
    done = assess_xl("collect", folder / "demo" / "2-交回的填报表", "-o", tmp_path / "r.xlsx",
                     "--notices", tmp_path / "通报", "--issuer", "南京市环境保护局")
    assert done.returncode == 1, done.stderr
    written = sorted((tmp_path / "通报").glob("*.docx"))
    assert len(written) == len(result.scores.districts) == 6
    template = publish.default_template()
    for district in result.scores.districts:
        (path,) = [p for p in written if district in p.name]
        stamp = datetime.fromtimestamp(path.stat().st_mtime)
        signed = report.Signature("南京市环境保护局", report.chinese_date(stamp))
        fresh = _PlainNoticeWriter(template).write(book, result.scores, result.explanations, district, signed)
        assert _parts(path.read_bytes()) == _parts(fresh), district


def _parts(docx: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


class _PlainNoticeWriter(publish.NoticeWriter):
    """Paragraphs and the table added as python-docx's documentation shows, the style found by name each
    time, every element made by python-docx (none copied from an earlier notice)."""

    def add(self, text, style):
        self.document.add_paragraph(text, style=self.document.styles[style])

    def table(self, rows):
        table = self.document.add_table(rows=1, cols=3)
        table.style = "Table Grid"
        for cell, text in zip(table.rows[0].cells, rows[0]):
            cell.text = text
        for label, points, score in rows[1:]:
            cells = table.add_row().cells
            cells[0].text = label
            if points is not None:
                cells[1].text = points
            cells[2].text = score
