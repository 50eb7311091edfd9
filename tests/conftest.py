import pytest

from assess_xl.rules import load as rulebook

from assess_xl.score import scoring

pytest_plugins = ["console.fixtures", "dovecot"]  # the console's fixtures (tests/console/fixtures.py), Dovecot's


@pytest.fixture(scope="session", autouse=True)
def text_widths_cache(tmp_path_factory):
    """The suite's own cache of measured text widths (xlsx.textwidths), for it and every command it starts:
    never the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session")
def book():
    return rulebook.load()


def best_value(indicator):
    """The value that earns an indicator's full marks (hand-chosen per type, not from the engine)."""
    if indicator.code in ("10-1", "11-1"):
        return 2.0
    if indicator.code == "16-1":
        return 48.0
    if indicator.code == "22-2":
        return 0.0
    return {"bool": 1.0, "count": 0.0, "percent": 1.0, "amount": 0.0, "choice": 0.0,
            "score": indicator.max, "deduction": 0.0}[indicator.type]


def typed_best(indicator) -> str:
    """What a person types for an indicator's full marks."""
    value = best_value(indicator)
    if indicator.type == "bool":
        return "是" if value else "否"
    if indicator.type == "choice":
        return indicator.options[int(value)]
    return f"{value * 100:g}%" if indicator.type == "percent" else f"{value:g}"


def best_frame(book, districts=("甲区",)):
    values = scoring.empty_values(book, list(districts))
    for code, indicator in book.indicators.items():
        values[code] = best_value(indicator)
    return values


@pytest.fixture
def best(book):
    return best_frame(book)
