"""The PDF `assess-xl pdf` makes is, page for page, in its text and in a raster of every page, the PDF that
LibreOffice makes of the same scorecard when left to lay it out itself: no print areas named, and every
printed sheet fitted to the page's width by its own search for the zoom. The print areas and fixed print
scales in the copy it is given (which spare LibreOffice most of its work) change nothing it prints; and
the scales come from the fonts of the machine: with Calibri given another face, they change, and still
match the zoom LibreOffice finds."""
import io
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from assess_xl.publish import documents as publish
from helpers import SOFFICE, assess_xl

pytestmark = pytest.mark.skipif(SOFFICE is None and os.environ.get("CI") != "true",
                                reason="LibreOffice (soffice) is not installed; .ci/run installs it")

_PRINT_AREA = re.compile(rb'<definedName name="_xlnm\.Print_Area"[^>]*>[^<]*</definedName>')
_SCALE = re.compile(rb'<pageSetup\b[^>]*\bscale="(\d+)"')


@pytest.fixture(scope="module")
def returned(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("look")
    done = assess_xl("demo", "-o", folder / "demo")
    assert done.returncode == 0, done.stderr
    return folder / "demo" / "2-交回的填报表"


def fitted_by_libreoffice(scorecard: bytes) -> bytes:
    """The PDF of the scorecard's official sheets as LibreOffice lays them out by itself."""
    copy = publish.official_only(scorecard)
    with zipfile.ZipFile(io.BytesIO(copy)) as source:
        parts = {info: source.read(info) for info in source.infolist()}
    rewritten = {}
    for info, data in parts.items():
        if info.filename == "xl/workbook.xml":
            data = _PRINT_AREA.sub(b"", data)
        elif info.filename.startswith("xl/worksheets/sheet") and _SCALE.search(data):
            data = fit_to_width(data)
        rewritten[info] = data
    return publish.convert(zipped(rewritten), "考核结果.xlsx", "pdf:calc_pdf_Export")


def fit_to_width(sheet: bytes) -> bytes:
    """A sheet's fixed print scale replaced by 'fit to one page wide'."""
    sheet = _SCALE.sub(lambda m: m.group(0).replace(b' scale="%s"' % m.group(1), b' fitToHeight="0"'), sheet)
    if b"<sheetPr>" in sheet:
        return sheet.replace(b"</sheetPr>", b'<pageSetUpPr fitToPage="1"/></sheetPr>', 1)
    return re.sub(rb"(<worksheet\b[^>]*>)", rb'\1<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>', sheet, count=1)


def zipped(parts: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in parts.items():
            target.writestr(info, data)
    return buffer.getvalue()


def pages(pdf: Path, folder: Path) -> tuple[list[str], list[bytes]]:
    """Each page's text (pdftotext -layout) and its raster at 30 dpi in grey (pdftoppm)."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    folder.mkdir()
    subprocess.run(["pdftoppm", "-r", "30", "-gray", str(pdf), str(folder / "p")], check=True)
    return text.split("\f")[:-1], [path.read_bytes() for path in sorted(folder.glob("p-*.pgm"))]


def summary_scale(scorecard: Path) -> int:
    with zipfile.ZipFile(scorecard) as archive:
        return int(_SCALE.search(archive.read("xl/worksheets/sheet1.xml")).group(1))


def pdf_through_the_command_line(returned: Path, folder: Path, env: dict[str, str]) -> tuple[Path, Path]:
    done = assess_xl("collect", returned, "-o", folder / "考核结果.xlsx", env=env)
    assert done.returncode == 1, done.stderr  # the demo's returns hold mistakes on purpose
    done = assess_xl("pdf", folder / "考核结果.xlsx", "-o", folder / "考核结果.pdf", env=env)
    assert done.returncode == 0, done.stderr
    return folder / "考核结果.xlsx", folder / "考核结果.pdf"


def assert_as_libreoffice_lays_it_out(scorecard: Path, pdf: Path, folder: Path) -> None:
    (folder / "reference.pdf").write_bytes(fitted_by_libreoffice(scorecard.read_bytes()))
    text, raster = pages(pdf, folder / "made")
    reference_text, reference_raster = pages(folder / "reference.pdf", folder / "reference")
    assert len(text) == len(reference_text) > 6  # 汇总 and at least one page for each of the 6 districts
    assert text == reference_text
    assert len(raster) == len(text)
    different = [n + 1 for n, (made, reference) in enumerate(zip(raster, reference_raster)) if made != reference]
    assert different == []


def test_the_pdf_is_what_libreoffice_prints_of_the_scorecard_by_itself(returned, tmp_path):
    scorecard, pdf = pdf_through_the_command_line(returned, tmp_path, {})
    assert_as_libreoffice_lays_it_out(scorecard, pdf, tmp_path)


def test_the_print_scales_come_from_the_fonts_of_the_machine(returned, tmp_path, monkeypatch):
    """Calibri (the workbook's default font, whose digits measure column widths) given the narrower
    digits of DejaVu Sans Mono: the columns print narrower, so the scales are larger, and are still the
    zoom LibreOffice finds with those fonts."""
    mono = subprocess.run(["fc-match", "-f", "%{family}", "DejaVu Sans Mono"], capture_output=True, text=True).stdout
    if "DejaVu Sans Mono" not in mono and os.environ.get("CI") != "true":
        pytest.skip("DejaVu Sans Mono is not installed (fonts-dejavu-core)")
    default, _ = pdf_through_the_command_line(returned, tmp_path / "default", {})
    config = tmp_path / "fonts.conf"
    config.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
                      '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
                      '  <match target="pattern"><test name="family"><string>Calibri</string></test>\n'
                      '    <edit name="family" mode="assign" binding="strong"><string>DejaVu Sans Mono</string></edit>\n'
                      '  </match>\n</fontconfig>\n', encoding="utf-8")
    monkeypatch.setenv("FONTCONFIG_FILE", str(config))
    scorecard, pdf = pdf_through_the_command_line(returned, tmp_path / "mono", {"FONTCONFIG_FILE": str(config)})
    assert summary_scale(scorecard) > summary_scale(default)
    assert_as_libreoffice_lays_it_out(scorecard, pdf, tmp_path / "mono")
