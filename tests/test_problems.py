import pickle
import string

import pytest

from assess_xl import problems as P


def test_every_template_is_chinese_and_formats():
    for kind, (level, template) in P.CATALOGUE.items():
        assert isinstance(level, P.Level), kind
        assert any("\u4e00" <= ch <= "\u9fff" for ch in template), kind
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        text = template.format(**{name: "X" for name in fields})
        assert "{" not in text


@pytest.mark.parametrize("code", sorted(P.CATALOGUE))
def test_every_code_formats_with_missing_or_odd_fields(code):
    """A missing field reads as empty and an odd one is shown as text: a message never raises mid-run."""
    assert P.make(code).kind == code
    odd = {"raw": None, "count": [1], "reason": {"x": 1}, "kind": "{kind}", "sheet": "{0}"}
    assert isinstance(P.make(code, **odd).message, str)
    assert "{" not in P.text(code).replace("{kind}", "").replace("{0}", "")


def test_make_names_the_place():
    problem = P.make("bool_invalid", file="a.xlsx", sheet="办公室", cell="H4", district="甲区", code="1-1", raw="也许")
    assert problem.level == P.ERROR and problem.message.startswith("“也许”不是是/否")
    assert (problem.file, problem.sheet, problem.cell, problem.district, problem.code) == ("a.xlsx", "办公室", "H4", "甲区", "1-1")


def test_long_raw_values_are_shortened():
    problem = P.make("not_a_number", raw="9" * 5000, expected="数字")
    assert len(problem.raw) < 230 and problem.raw.endswith("（共5000字）")


def test_sort_order_errors_first():
    items = [P.make("number_as_text", raw="1", value="1"), P.make("missing", expected="x"),
             P.make("percent_points", raw="85", value="85%")]
    assert [p.level for p in sorted(items, key=P.sort_key)] == [P.ERROR, P.WARNING, P.INFO]


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(KeyError):
        P.make("no_such_kind")


def test_codes_are_an_enum_so_a_misspelt_code_fails_at_once():
    assert P.Code.BOOL_INVALID == "bool_invalid" and f"{P.Code.BOOL_INVALID}" == "bool_invalid"
    assert P.make(P.Code.BOOL_INVALID, raw="也许").kind == "bool_invalid"
    with pytest.raises(AttributeError):
        P.Code.BOOL_INVALD  # noqa: B018
    with pytest.raises(KeyError):
        P.make("bool_invald")


def test_every_library_error_is_an_assess_error_carrying_problems():
    from assess_xl.files import WriteError
    from assess_xl.score.previous import PreviousError
    from assess_xl.xlsx.ownbooks import OwnWorkbookError
    from assess_xl.year import YearError
    for error_type in (WriteError, PreviousError, OwnWorkbookError, YearError):
        assert issubclass(error_type, P.AssessError), error_type
    error = YearError(P.make(P.Code.YEAR_EXISTS, where="2008"))
    assert error.problems[0].kind == "year_exists" and str(error) == error.problem.message
    assert "2008" in str(error)
    assert PreviousError(P.Code.PREVIOUS_NO_DATA).problem.kind == "previous_no_data"


def test_rulebook_form_publish_and_delivery_errors_carry_problems_too():
    from assess_xl.publish.delivery import DeliveryError
    from assess_xl.publish.documents import PublishError
    from assess_xl.publish.forms import FormError
    from assess_xl.rules.model import RulebookError
    from assess_xl.pipeline import RunError
    from assess_xl.read.fetch import FetchError
    for error_type in (RulebookError, FormError, PublishError, DeliveryError, RunError, FetchError):
        assert issubclass(error_type, P.AssessError), error_type
    error = RulebookError(P.make(P.Code.RULE_FILE_MISSING, at="a.yaml"), P.make(P.Code.RULE_NO_INDICATORS, at="a.yaml"))
    assert error.messages == ["a.yaml：找不到评分细则文件。", "a.yaml：没有填报指标。"]


def test_district_list_problems_are_catalogue_problems():
    from assess_xl.xlsx.layout import district_name_problems
    problems = district_name_problems(["玄武区", "玄武区", "Ａ区", "A区"])
    assert [p.kind for p in problems] == ["district_name_repeated", "district_name_similar"]
    assert problems[1].message == "区名“A区”与“Ａ区”只差全角/半角、空格或大小写，会被当成同一个区。每个区只能出现一次，请改用能区分的名称。"


def test_an_error_in_one_line_keeps_its_heading_and_every_problem():
    """What the console shows for a refusal: the catalogue heading (评分细则无法使用：) and each problem, joined by ；."""
    from assess_xl.problems import Code, make
    from assess_xl.rules.model import RulebookError
    error = RulebookError(make(Code.RULE_FILE_MISSING, at="a.yaml"), make(Code.RULE_FILE_MISSING, at="b.yaml"))
    assert error.message.count("\n") == 2
    assert error.line == "评分细则无法使用：a.yaml：找不到评分细则文件；b.yaml：找不到评分细则文件。"


from hypothesis import given, settings, strategies as st  # noqa: E402


def _made_field_by_field(kind, fields):
    """P.make as it was written before (every template formatted through _Fields, the value by Enum's property)."""
    kind = P.code_of(kind)
    place = {name: fields.pop(name, "") for name in ("file", "sheet", "cell", "district", "code", "raw")}
    raw_text = P.shorten(place["raw"])
    fields.update(raw=raw_text, file=place["file"], sheet=place["sheet"], district=place["district"], code=place["code"])
    fields = {key: "" if value is None else value for key, value in fields.items()}
    message = kind.template.format_map(P._Fields(fields))
    return P.Problem(kind.level, kind.value, message, str(place["file"]), str(place["sheet"]), str(place["cell"]),
                     str(place["district"]), str(place["code"]), raw_text)


_NAMES = sorted({name for code in P.Code for _, name, _, _ in string.Formatter().parse(code.template) if name}
                | {"file", "sheet", "cell", "district", "code", "raw"})


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(list(P.Code)),
       fields=st.dictionaries(st.sampled_from(_NAMES), st.one_of(st.none(), st.text(max_size=8), st.integers(-3, 3))))
def test_a_problem_made_with_every_field_given_or_some_missing_is_as_made_field_by_field(kind, fields):
    assert P.make(kind, **dict(fields)) == _made_field_by_field(kind, dict(fields))


class Shown(str):
    """A str that shows itself otherwise (as a str Enum member shows its name): str.format shows what __format__ says."""

    def __format__(self, spec: str) -> str:
        return "«" + str.__str__(self) + "»"

    def __str__(self) -> str:
        return "«" + str.__str__(self) + "»"


_VALUES = st.one_of(st.none(), st.text(max_size=3), st.integers(-1, 1), st.sampled_from([1.0, 0.0, True, False]),
                    st.text(max_size=3).map(Shown), st.sampled_from(list(P.Level)))


@settings(max_examples=300, deadline=None)
@given(st.sets(st.sampled_from(_NAMES), max_size=8).flatmap(
    lambda names: st.lists(st.tuples(st.sampled_from(list(P.Code)), st.fixed_dictionaries({n: _VALUES for n in names})),
                           max_size=12)))
def test_problems_made_column_by_column_are_those_made_one_by_one(rows):
    """make_many equals make for each row, whatever the kinds and fields (also 1, 1.0 and True, which are equal
    and print differently, and a field the template names among those of another kind)."""
    kinds = [kind for kind, _ in rows]
    columns = {name: [fields[name] for _, fields in rows] for name in (rows[0][1] if rows else {})}
    made, expected = P.make_many(kinds, columns), [P.make(kind, **fields) for kind, fields in rows]
    assert made == expected
    assert [(type(p), vars(p), hash(p)) for p in made] == [(type(p), vars(p), hash(p)) for p in expected]
    assert pickle.loads(pickle.dumps(made)) == expected


def test_a_template_with_its_fields_numbered_formats_as_with_them_named():
    """make_many gives the fields by position: conversions, format specs (a field in one too), attributes, indexes
    and doubled braces read as they do by name."""
    template = "{a}{{b}}{c!r:>{w}}{d.real:.1f}{e[0]}{a}"
    fields = {"a": 1, "c": "x", "w": 5, "d": 2.25, "e": "yz"}
    names = sorted(P._field_names(template))
    numbered = P._numbered(template, {name: str(n) for n, name in enumerate(names)})
    assert names == ["a", "c", "d", "e", "w"]
    assert numbered.format(*(fields[name] for name in names)) == template.format_map(fields) == "1{b}  'x'2.2y1"


_PLACED = st.builds(lambda level, file, district, message: P.Problem(level, "k", message, file, "", "", district),
                    st.sampled_from([P.ERROR, P.WARNING, P.INFO]), st.sampled_from(["a", "b"]),
                    st.sampled_from(["", "x", "y"]), st.text(max_size=2))


@settings(max_examples=200, deadline=None)
@given(st.lists(_PLACED, max_size=6), st.lists(_PLACED, max_size=12), st.lists(_PLACED, max_size=6))
def test_problems_put_among_some_in_order_stand_as_sorting_them_all_leaves_them(before, ordered, after):
    """in_order is the stable sort of before + ordered + after (the same objects in the same places: problems of
    equal keys stay in the order given, before's ahead of ordered's ahead of after's)."""
    ordered = sorted(ordered, key=P.sort_key)
    expected = sorted([*before, *ordered, *after], key=P.sort_key)
    assert list(map(id, P.in_order(before, ordered, after))) == list(map(id, expected))


def test_messages_are_joined_from_texts_and_formatted_otherwise():
    """A template of plain fields given texts is joined from its parts (as formatting it would give); with a count
    among the values, or a field with a conversion, a spec, an attribute or an index, it is left to str.format."""
    texts = {"a": ["x", "y{0}"], "b": ["", "z"]}
    assert P._joined("{a}与{{b}}{b}。", texts, 2) == ["x与{b}。", "y{0}与{b}z。"]
    assert P._joined("无字段", {}, 3) == ["无字段"] * 3
    assert P._joined("{a}{b}", {"a": ["x", 1], "b": ["", ""]}, 2) is None
    assert P._joined("{a}{b}", {"a": ["x", Shown("y")], "b": ["", ""]}, 2) is None  # a str subclass: formatted
    for template in ("{a!r}", "{a:>3}", "{a.real}", "{a[0]}"):
        assert P._joined(template, texts, 2) is None


@pytest.mark.parametrize("raws", [["1", "x" * 200], ["1", "x" * 201], ["长" * 300, None], [1.5, "2"], []])
def test_entries_are_shortened_in_problems_made_together_as_in_those_made_alone(raws):
    """make_many quotes each entry as make does: in full up to SHORT characters, else cut with its length said
    (a column of short texts taken as it is)."""
    kinds = [P.Code.CONFLICT] * len(raws)
    made = P.make_many(kinds, {"raw": raws, "old": raws})
    assert made == [P.make(P.Code.CONFLICT, raw=raw, old=raw) for raw in raws]
    assert [p.raw for p in made] == [P.shorten(raw) for raw in raws]
