"""Reading a PDF as a checker would: its words with their boxes (pdftotext -bbox), its pages as pixels
(pdftoppm), the table rules drawn on them, and which face of Noto CJK its glyphs come from."""
from __future__ import annotations

import html
import re
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DPI = 100


@dataclass(frozen=True)
class Word:
    page: int
    text: str
    x0: float  # points
    y0: float
    x1: float
    y1: float


def words(pdf: Path) -> list[Word]:
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    found, page = [], 0
    for line in out.splitlines():
        if "<page " in line:
            page += 1
        match = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*)</word>', line)
        if match:
            x0, y0, x1, y1 = (float(match.group(i)) for i in range(1, 5))
            found.append(Word(page, html.unescape(match.group(5)), x0, y0, x1, y1))
    return found


def page_texts(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1]


Rule = tuple[float, float, float]  # where (y of a horizontal rule, x of a vertical one), from, to: points


def rules(pdf: Path, folder: Path, pages: list[int] | None = None) -> dict[int, tuple[list[Rule], list[Rule]]]:
    """Page → the table rules drawn on it (horizontal, vertical), found in its pixels: a horizontal rule
    is a dark run at least a quarter of the page wide, a vertical one at least 36 points tall (text never
    makes either: its glyphs leave gaps and are shorter). All pages, or those in `pages`."""
    from PIL import Image
    prefix = folder / "rule"
    for first, last in _ranges(pages) if pages else [(None, None)]:
        bounds = ["-f", str(first), "-l", str(last)] if first else []
        subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", *bounds, str(pdf), str(prefix)], check=True)
    found = {}
    for image in sorted(folder.glob("rule-*.png")):
        pixels = np.asarray(Image.open(image).convert("L")) < 200
        found[int(image.stem.split("-")[-1])] = (_runs(pixels, pixels.shape[1] // 4), _runs(pixels.T, DPI // 2))
        image.unlink()
    return found


def _ranges(pages: list[int]) -> list[tuple[int, int]]:
    """Sorted page numbers as runs of consecutive pages."""
    out: list[tuple[int, int]] = []
    for page in sorted(set(pages)):
        if out and out[-1][1] == page - 1:
            out[-1] = (out[-1][0], page)
        else:
            out.append((page, page))
    return out


def _runs(pixels: np.ndarray, least: int) -> list[Rule]:
    """Thin dark runs of at least `least` pixels along each pixel row, in points. Thin: most of the run has
    light pixels 3 rows above and below it, which the edges and insides of filled shapes (a chart's bars) lack."""
    out = []
    height = pixels.shape[0]
    for y in np.nonzero(pixels.sum(axis=1) >= least)[0]:
        edges = np.flatnonzero(np.diff(np.concatenate(([0], pixels[y].astype(np.int8), [0]))))
        for start, end in zip(edges[::2], edges[1::2]):
            if end - start < least:
                continue
            above, below = pixels[max(y - 3, 0), start:end], pixels[min(y + 3, height - 1), start:end]
            if np.mean(~above & ~below) >= 0.5:
                out.append((y * 72 / DPI, start * 72 / DPI, end * 72 / DPI))
    return out


def crossed(all_words: list[Word], all_rules: dict[int, tuple[list[Rule], list[Rule]]]) -> list[Word]:
    """Words that a table rule runs through: text cut off by its cell, hidden under the next row or spilling
    into the next column. A word's box holds the font's whole ascent and descent: the middle half of its
    height is where its ink is; its width is all ink, less a point at each end for the side bearings."""
    out = []
    for word in all_words:
        top, bottom = word.y0 + (word.y1 - word.y0) / 4, word.y1 - (word.y1 - word.y0) / 4
        left, right = word.x0 + 1, word.x1 - 1
        across, down = all_rules.get(word.page, ([], []))
        if any(top < y < bottom and x0 <= (left + right) / 2 <= x1 for y, x0, x1 in across) or \
                any(left < x < right and y0 <= (top + bottom) / 2 <= y1 for x, y0, y1 in down):
            out.append(word)
    return out


# ---- fonts ---------------------------------------------------------------------------------------

def _objects(data: bytes) -> dict[int, bytes]:
    return {int(m.group(1)): m.group(2) for m in re.finditer(rb"(\d+) 0 obj(.*?)endobj", data, re.S)}


def _stream(body: bytes) -> bytes:
    raw = re.search(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S).group(1)
    return zlib.decompress(raw) if b"/FlateDecode" in body else raw


def cjk_glyphs(pdf: Path) -> dict[str, dict[str, int]]:
    """Embedded Noto CJK font (its PDF name) → character → glyph id, from the embedded Type 1 font's
    encoding (glyph names cidNNNNN) and the font's ToUnicode map."""
    objects = _objects(pdf.read_bytes())
    out = {}
    for body in objects.values():
        font = re.search(rb"/BaseFont/(\S+?CJK\S+?)[\s/>]", body)
        if b"/Type/Font/" not in body or not font:
            continue
        descriptor = objects[int(re.search(rb"/FontDescriptor (\d+) 0 R", body).group(1))]
        program = _stream(objects[int(re.search(rb"/FontFile\d? (\d+) 0 R", descriptor).group(1))])
        encoding = {int(code): int(cid) for code, cid in re.findall(rb"dup (\d+) /cid(\d+) put", program)}
        unicode_map = _stream(objects[int(re.search(rb"/ToUnicode (\d+) 0 R", body).group(1))])
        chars = {}
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", unicode_map, re.S):
            for code, text in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                chars[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
        out[font.group(1).decode()] = {chars[c]: g for c, g in encoding.items() if c in chars and len(chars[c]) == 1}
    return out


def face_cmaps(pdf_font: str) -> dict[str, dict[int, int]]:
    """The installed Noto CJK collection an embedded font came from: face (SC, JP…) → code point → glyph id."""
    from fontTools.ttLib import TTCollection
    match = re.search(r"Noto(Sans|Serif)CJKjp-(\w+?)-", pdf_font)
    path = f"/usr/share/fonts/opentype/noto/Noto{match.group(1)}CJK-{match.group(2)}.ttc"
    faces = {}
    for face in TTCollection(path, lazy=True).fonts:
        order = face.getGlyphOrder()
        faces[face["name"].getDebugName(1).split()[-1]] = {
            code: int(order.index(name)) if not name.startswith("cid") else int(name[3:])
            for code, name in face.getBestCmap().items()}
    return faces
