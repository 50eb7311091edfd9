"""Text widths kept between runs: every width taken from the cache is the float Pillow measures for the same
text in the same face (the rulebook's wording, the scorecard's own and generated strings), a scorecard built
from the cache has the bytes of one measured afresh, and a cache of another font file, another Pillow, or a
damaged or unwritable one is not used."""
import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st
from PIL import ImageFont

from assess_xl.xlsx import printfit, textwidths
from conftest import typed_best

RULEBOOK = Path(printfit.__file__).parent.parent.parent / "templates" / "rulebook-2007.yaml"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder of this test's own, read afresh."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    textwidths.forget()
    yield tmp_path / "cache" / "assess-xl" / textwidths.CACHE_NAME
    textwidths.forget()


def printing_face(bold: bool = False) -> textwidths.Face:
    found = printfit._fontconfig_match(f"{printfit.SERIF_SC}:{'bold' if bold else 'regular'}")
    face = textwidths.face(*found) if found is not None else None
    if face is None or face.name()[0] != printfit.SERIF_SC:
        pytest.skip("the printing font (Noto Serif CJK SC) is not installed")
    return face


def reloaded(face: textwidths.Face) -> textwidths.Face:
    """The same face as a later run gets it: this run's measurements written, then read back from the cache."""
    textwidths.save()
    textwidths.forget()
    again = textwidths.face(face.file, face.index)
    assert again is not None and again.loaded is None  # known from the cache: FreeType not asked
    return again


def strings_of(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in strings_of(key) + strings_of(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings_of(item)]
    return []


def wording_tokens() -> list[str]:
    """Every piece the line counts measure in the rulebook's wording, and the wording whole (titles, numbers)."""
    texts = strings_of(yaml.safe_load(RULEBOOK.read_text(encoding="utf-8")))
    tokens = {token for text in texts for paragraph in text.split("\n") for token in printfit._WORD.findall(paragraph)}
    return sorted(tokens | set(texts) | {"是否完成：是", "缺报", "70.42", "100%", "市环境保护局\u3000\u30002026年12月4日"})


@pytest.mark.parametrize("bold", [False, True])
def test_every_width_of_the_rulebooks_wording_from_the_cache_is_pillows(cache, bold):
    face = printing_face(bold)
    tokens = wording_tokens()
    measured = [face.length(token) for token in tokens]
    later = reloaded(face)
    fresh = ImageFont.truetype(face.file, textwidths.UNITS, index=face.index)
    assert [later.length(token) for token in tokens] == measured == [fresh.getlength(token) for token in tokens]
    assert later.loaded is None  # nothing measured again
    assert later.metrics() == fresh.getmetrics() and later.name() == fresh.getname()


TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=8))
def test_generated_strings_from_the_cache_are_pillows(tmp_path_factory, texts):
    before = os.environ["XDG_CACHE_HOME"]  # the suite's (conftest)
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    try:
        textwidths.forget()
        face = printing_face()
        measured = [face.length(text) for text in texts]
        later = reloaded(face)
        fresh = ImageFont.truetype(face.file, textwidths.UNITS, index=face.index)
        assert [later.length(text) for text in texts] == measured == [fresh.getlength(text) for text in texts]
    finally:
        os.environ["XDG_CACHE_HOME"] = before
        textwidths.forget()


def clear_printfit() -> None:
    printfit.forget()


def test_a_scorecard_built_from_the_cache_has_the_bytes_of_one_measured_afresh(cache, book, tmp_path):
    from assess_xl import pipeline
    from assess_xl.demo import fill_workbook
    from assess_xl.publish import scorecard as report
    from helpers import write_forms
    printing_face()
    districts = ["甲区", "乙区（新）"]
    blank = write_forms(book, districts, tmp_path / "forms")
    entries: dict = {}
    for code, indicator in book.indicators.items():
        entries.setdefault(indicator.department, {})[code] = {d: typed_best(indicator) for d in districts}
    entries["开发处"]["6-1"]["乙区（新）"] = "2"
    (tmp_path / "inbox").mkdir()
    fill_workbook(blank["全部"], tmp_path / "inbox" / "全部.xlsx", entries)
    clear_printfit()
    result = pipeline.collect([tmp_path / "inbox"], book, pipeline.CollectOptions(generated=datetime(2026, 12, 4, 10)))
    textwidths.save()
    assert cache.exists()
    textwidths.forget()
    clear_printfit()
    again = report.build(book, result.scores, result.explanations, result.read, result.generated, None,
                         result.comparison, result.robustness)
    assert again == result.content
    assert textwidths._MEASURING and all(face.loaded is None for face in textwidths._MEASURING)  # all from the cache
    clear_printfit()


def test_a_changed_font_file_is_measured_again(cache, tmp_path):
    original = printing_face()
    copy = tmp_path / "font.ttc"
    shutil.copyfile(original.file, copy)
    face = textwidths.face(str(copy), original.index)
    face.length("环保")
    textwidths.save()
    os.utime(copy, ns=(1, 1))
    textwidths.forget()
    again = textwidths.face(str(copy), original.index)
    assert again.loaded is not None and "环保" not in again.record.widths
    textwidths.save()
    kept = json.loads(cache.read_text())["faces"]
    assert [json.loads(identity)[0] for identity in kept].count(str(copy)) == 1  # the old file's entry dropped


@pytest.mark.parametrize("content", [b"", b"not json", b"[]", b'{"format": 1}', b'{"format": 99, "faces": {}}'])
def test_a_damaged_cache_is_measured_afresh_and_written_again(cache, content):
    cache.parent.mkdir(parents=True)
    cache.write_bytes(content)
    face = printing_face()
    assert face.loaded is not None
    width = face.length("环")
    textwidths.save()
    assert reloaded(face).length("环") == width


def test_entries_of_another_kind_are_not_used(cache):
    face = printing_face()
    face.length("环")
    textwidths.save()
    content = json.loads(cache.read_text())
    identity = face.identity
    for damage in ({"widths": {"环": 500}}, {"widths": {"环": "500"}}, {"metrics": [1, "2"]}, {"name": "x"}):
        changed = json.loads(json.dumps(content))
        changed["faces"][identity].update(damage)
        cache.write_text(json.dumps(changed))
        textwidths.forget()
        assert textwidths.face(face.file, face.index).loaded is not None, damage
    changed = json.loads(json.dumps(content))
    changed["engine"] = "Pillow 1.0"
    cache.write_text(json.dumps(changed))
    textwidths.forget()
    assert textwidths.face(face.file, face.index).loaded is not None


def test_a_cache_that_cannot_be_written_is_not_kept(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file where the folder would be
    textwidths.forget()
    try:
        printing_face().length("环")
        textwidths.save()
    finally:
        textwidths.forget()
    assert blocker.read_text() == ""


def test_a_full_cache_starts_again_from_what_this_process_measured(cache, monkeypatch):
    monkeypatch.setattr(textwidths, "MOST_WIDTHS", 3)
    face = printing_face()
    for text in "环保局":
        face.length(text)
    textwidths.save()
    textwidths.forget()
    face = textwidths.face(face.file, face.index)
    face.length("目标")
    textwidths.save()
    assert set(json.loads(cache.read_text())["faces"][face.identity]["widths"]) == {"目标"}


def test_without_a_home_folder_nothing_is_kept(monkeypatch):
    for variable in ("XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(variable, raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", no_home)
    textwidths.forget()
    try:
        face = printing_face()
        assert face.length("环") == ImageFont.truetype(face.file, textwidths.UNITS, index=face.index).getlength("环")
        textwidths.save()
    finally:
        textwidths.forget()


def test_nothing_new_measured_nothing_written(cache):
    face = printing_face()
    face.length("环")
    textwidths.save()
    written = cache.stat().st_mtime_ns
    cache.write_text("kept as it is")
    textwidths.save()  # nothing measured since
    later = textwidths.face(face.file, face.index)
    later.length("环")
    textwidths.save()
    assert cache.read_text() == "kept as it is" and written


def test_without_pillow_there_is_no_face(cache, monkeypatch):
    face = printing_face()
    textwidths.forget()
    monkeypatch.setattr(textwidths, "engine", lambda: __import__("PIL._no_such_module"))
    assert textwidths.face(face.file, face.index) is None
