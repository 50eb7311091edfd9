"""Remakes the pictures of what people receive that README.md shows: docs/pdf-first-page.png,
docs/scorecard-summary.png, docs/scorecard-district.png (the demo's official PDF) and docs/notice.png
(玄武区's notice, first page). Everything is made through the command line as a coordinator runs it,
and rendered by LibreOffice with the fonts the program's own PDF uses (publish.documents.convert).
Needs LibreOffice Calc and Writer (libreoffice-calc-nogui, libreoffice-writer-nogui), poppler-utils
and fonts-noto-cjk. Run: .venv/bin/python tools/docs_pictures.py"""
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from assess_xl.publish.documents import convert

DOCS = Path(__file__).parents[1] / "docs"
ASSESS_XL = Path(sys.executable).parent / "assess-xl"


def run(*args) -> None:
    """A command as the coordinator types it; 1 means written with errors or 缺报 (the demo has some)."""
    done = subprocess.run([str(ASSESS_XL), *map(str, args)], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(done.stdout + done.stderr)


def page(pdf: Path, number: int, dpi: int) -> Image.Image:
    stem = pdf.with_name(f"{pdf.stem}-{number}-{dpi}")
    subprocess.run(["pdftoppm", "-r", str(dpi), "-f", str(number), "-l", str(number), "-png", "-singlefile",
                    str(pdf), str(stem)], check=True)
    return Image.open(f"{stem}.png").convert("RGB")


def top(image: Image.Image, height: int) -> Image.Image:
    """The upper part of a page, from its left margin to its right margin (white borders cut off)."""
    left, upper, right, _ = Image.eval(image, lambda v: 255 - v).getbbox()
    return image.crop((max(left - 10, 0), max(upper - 10, 0), min(right + 10, image.width),
                       min(upper - 10 + height, image.height)))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        run("demo", "-o", work / "demo")
        scorecard = work / "demo" / "3-考核结果.xlsx"
        run("pdf", scorecard, "-o", work / "result.pdf")
        run("collect", work / "demo" / "2-交回的填报表", "-o", work / "again.xlsx", "--notices", work / "notices")
        notice = next((work / "notices").glob("*玄武区*.docx"))
        (work / "notice.pdf").write_bytes(convert(notice.read_bytes(), "notice.docx", "pdf"))
        page(work / "result.pdf", 1, 70).save(DOCS / "pdf-first-page.png")
        top(page(work / "result.pdf", 1, 150), 250).save(DOCS / "scorecard-summary.png")
        top(page(work / "result.pdf", 2, 150), 560).save(DOCS / "scorecard-district.png")
        page(work / "notice.pdf", 1, 70).save(DOCS / "notice.png")


if __name__ == "__main__":
    main()
