"""Rulebook texts parsed before: what comes from the cache is what PyYAML's safe loader makes of the text,
value for value and type for type (the embedded rulebook, generated documents); the rulebook loaded from it
is the same; a damaged cache, another PyYAML or a value the cache cannot write means parsing again."""
import datetime as dt
import json
import math

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from assess_xl.rules import load as rulebook_load
from assess_xl.rules import parsed


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "assess-xl" / parsed.CACHE_NAME


def by_yaml(text: str):
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def same(a, b) -> bool:
    """Equal, of the same types all the way down, mappings in the same order (NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return len(a) == len(b) and all(same(ka, kb) and same(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items()))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dt.datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return a == b


def parsed_without_yaml(text: str, monkeypatch):
    """`parse(text)` where PyYAML cannot be asked: the cache must answer."""
    with monkeypatch.context() as patch:
        patch.setattr(parsed, "_parsed", lambda text: pytest.fail("parsed again"))
        return parsed.parse(text)


def test_the_embedded_rulebook_from_the_cache_is_pyyamls(cache, monkeypatch):
    text = rulebook_load.embedded_rulebook_path().read_text(encoding="utf-8-sig")
    first = parsed.parse(text)
    assert cache.exists()
    assert same(parsed_without_yaml(text, monkeypatch), by_yaml(text)) and same(first, by_yaml(text))


def test_the_rulebook_loaded_from_the_cache_is_the_same(cache, monkeypatch):
    afresh = rulebook_load.load()
    with monkeypatch.context() as patch:
        patch.setattr(parsed, "_parsed", lambda text: pytest.fail("parsed again"))
        assert rulebook_load.load() == afresh


SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12)
           | st.dates() | st.datetimes(timezones=st.none() | st.just(dt.timezone.utc)
                                       | st.builds(dt.timezone, st.integers(-12, 12).map(lambda h: dt.timedelta(hours=h)))))
KEYS = st.text(max_size=8) | st.integers() | st.booleans() | st.dates()
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
                         max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(DOCUMENTS)
def test_generated_documents_from_the_cache_are_pyyamls(tmp_path_factory, document):
    text = yaml.safe_dump(document, allow_unicode=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        expected = by_yaml(text)
        assert same(parsed.parse(text), expected)
        assert same(parsed_without_yaml(text, patch), expected)


def test_a_damaged_cache_or_another_pyyaml_means_parsing_again(cache, monkeypatch):
    text = "a: 1\nb: [2.5, x]\n"
    parsed.parse(text)
    for damage in (lambda c: "not json", lambda c: json.dumps({**c, "parsers": {"another": only_texts(c)}}),
                   lambda c: json.dumps({**c, "parsers": {parser: {key: {"set": []} for key in texts}
                                                          for parser, texts in c["parsers"].items()}})):
        content = json.loads(cache.read_text())
        cache.write_text(damage(content))
        asked: list[str] = []
        with monkeypatch.context() as patch:
            patch.setattr(parsed, "_parsed", lambda given, asked=asked: asked.append(given) or by_yaml(given))
            assert parsed.parse(text) == {"a": 1, "b": [2.5, "x"]}
        assert asked == [text]


def test_a_value_the_cache_cannot_write_is_parsed_each_time(cache):
    text = "!!set {a: null}\n"
    assert parsed.parse(text) == {"a"} and parsed.parse(text) == {"a"}
    assert not cache.exists()


def test_a_few_texts_are_kept(cache, monkeypatch):
    texts = [f"n: {n}\n" for n in range(parsed.MOST_TEXTS + 3)]
    for text in texts:
        parsed.parse(text)
    assert len(only_texts(json.loads(cache.read_text()))) == parsed.MOST_TEXTS
    assert parsed_without_yaml(texts[-1], monkeypatch) == {"n": parsed.MOST_TEXTS + 2}


def only_texts(content: dict) -> dict:
    """The texts of the one PyYAML a cache holds."""
    (texts,) = content["parsers"].values()
    return texts


def test_each_pyyaml_keeps_its_own_texts_for_a_few_of_them(cache, monkeypatch):
    """Installations of assess-xl share the user's cache folder, each with its PyYAML: a text parsed by one is
    not parsed again by it after the others have parsed it, while a few of them take turns."""
    text = "a: 1\n"
    installations = [f"PyYAML {n}" for n in range(parsed.MOST_PARSERS + 1)]
    for turn in range(2):
        for installation in installations[:parsed.MOST_PARSERS]:
            monkeypatch.setattr(parsed, "_parser", lambda installation=installation: installation)
            if turn:
                assert parsed_without_yaml(text, monkeypatch) == {"a": 1}
            else:
                assert parsed.parse(text) == {"a": 1}
    monkeypatch.setattr(parsed, "_parser", lambda: installations[-1])
    parsed.parse(text)
    assert list(json.loads(cache.read_text())["parsers"]) == installations[1:]  # the one that parsed longest ago went


def test_a_text_pyyaml_refuses_says_where(cache):
    with pytest.raises(parsed.ParseError) as refused:
        parsed.parse("a: 1\nb: [2\n")
    assert refused.value.line is not None and refused.value.problem


def test_without_a_cache_folder_the_text_is_parsed(monkeypatch):
    monkeypatch.setattr(parsed.files, "cache_folder", lambda: None)
    assert parsed.parse("a: 1\n") == {"a": 1}
