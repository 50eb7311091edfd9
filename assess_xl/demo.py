"""The demo (`run`: forms, returns filled from sample data, the scorecard), filling forms as a person
would (used by the demo, the tests and the benchmark), and the demo's sample data. A filled value
is what a person types: text that Excel would turn into a number becomes a number, '85%' in a rate
cell becomes 0.85, anything else stays text."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from assess_xl.xlsx.layout import name_key
from assess_xl.read.form import find_header

NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def as_excel_would(typed):
    """What Excel stores when a person types `typed` into a cell (a leading ' keeps text)."""
    if not isinstance(typed, str):
        return typed
    if typed.startswith("'"):
        return typed[1:]
    if NUMBER.match(typed):
        number = float(typed)
        return int(number) if number.is_integer() else number
    if typed.endswith("%") and NUMBER.match(typed[:-1]):
        return float(typed[:-1]) / 100
    return typed


def fill_workbook(source: Path | bytes, target: Path, entries: dict[str, dict[str, dict[str, object]]]) -> None:
    """entries: department → code → district → typed value. Cells are found by code and district,
    as a person finds them; text stays text (openpyxl would otherwise turn '=…' into a formula)."""
    import openpyxl  # only the demo and the tests fill forms; collect need not pay for the import

    workbook = openpyxl.load_workbook(io.BytesIO(source) if isinstance(source, bytes) else source)
    for department, codes in entries.items():
        if department not in workbook.sheetnames:
            continue
        sheet = workbook[department]
        rows = [[c.value for c in row] for row in sheet.iter_rows(max_row=min(sheet.max_row, 400))]
        header = find_header(rows)
        if header is None:
            raise KeyError(f"no 编号 header in sheet {department!r}")
        header_row, code_col = header
        columns = {name_key(v): i for i, v in enumerate(rows[header_row]) if v}
        row_of = {str(r[code_col]): i for i, r in enumerate(rows) if i > header_row and r[code_col]}
        for code, by_district in codes.items():
            for district, typed in by_district.items():
                if name_key(district) not in columns:
                    raise KeyError(f"no column for district {district!r} in sheet {department!r}")
                if code in row_of:
                    cell = sheet.cell(row_of[code] + 1, columns[name_key(district)] + 1)
                    cell.value = as_excel_would(typed)
                    if isinstance(cell.value, str):
                        cell.data_type = "s"
    workbook.save(target)


def sample_path(name: str) -> Path:
    return Path(str(resources.files("assess_xl.samples").joinpath(name)))


def sample_districts() -> list[str]:
    return read_district_list(sample_path("districts.txt").read_text(encoding="utf-8-sig"))


def read_district_list(text: str) -> list[str]:
    """One district per line, as written; blank lines are skipped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def sample_entries(book) -> dict[str, dict[str, dict[str, str]]]:
    """department → code → district → typed text, from samples/values-2007.csv."""
    entries: dict[str, dict[str, dict[str, str]]] = {}
    with sample_path("values-2007.csv").open(encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            code = row.pop("编号")
            department = book.indicators[code].department
            entries.setdefault(department, {})[code] = {d: v for d, v in row.items() if v != ""}
    return entries


FORMS_DIR, INBOX_DIR, SCORECARD = "1-空白填报表", "2-交回的填报表", "3-考核结果.xlsx"
FULL_WORKBOOK_DEPARTMENTS = ("办公室", "综合处", "环监局")  # these fill the full workbook, the others their own copy


@dataclass(frozen=True)
class Demo:
    book: object
    blank: list[Path]  # the forms written
    forms_dir: Path
    inbox: Path  # the returns, filled from the sample data
    scorecard: Path
    result: object  # pipeline.CollectResult


def run(out: Path) -> Demo:
    """Forms for the sample districts, returns filled from the sample data (some with mistakes and
    blanks on purpose), and their scorecard, all under `out`."""
    from assess_xl import pipeline
    from assess_xl import files
    from assess_xl.publish import forms
    from assess_xl.rules import load as rulebook_load

    book = rulebook_load.load(None)
    forms_dir, inbox, scorecard = out / FORMS_DIR, out / INBOX_DIR, out / SCORECARD
    blank = [(forms_dir / form.name, form.content) for form in forms.build_forms(book, sample_districts())]
    files.write_files(blank)
    inbox.mkdir(parents=True, exist_ok=True)
    entries: dict = sample_entries(book)
    by_name = {path.name: path for path, _ in blank}
    fill_workbook(by_name[forms.file_name(book, None)], inbox / "全部部门-综合处汇总.xlsx",
                  {d: entries[d] for d in FULL_WORKBOOK_DEPARTMENTS if d in entries})
    for department, codes in entries.items():
        if department not in FULL_WORKBOOK_DEPARTMENTS:
            fill_workbook(by_name[forms.file_name(book, department)], inbox / f"{department}-已填.xlsx",
                          {department: codes})
    files.refuse_if_in_use(scorecard)
    result = pipeline.collect([inbox], book, pipeline.CollectOptions(output=scorecard))
    pipeline.stop_unless_scored(result, scorecard)
    files.write_file(scorecard, result.content)
    return Demo(book, [path for path, _ in blank], forms_dir, inbox, scorecard, result)
