"""Turning returned forms into values and problems: cells are found by code and district name,
parsed by their indicator's type, merged across files (the later submission wins), and every
problem is collected, never raised."""
from __future__ import annotations

import io
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell

from . import intake, problems as P, sandbox
from .components import Indicator, fmt_number, fmt_percent
from .forms import CONTEXT_HEADERS, GUIDE_SHEET, META_SHEET, TOOL
from .problems import Problem
from .rulebook import Rulebook

TRUE_WORDS = {"是", "1", "true", "√", "✓", "✔", "y", "yes", "对"}
FALSE_WORDS = {"否", "0", "false", "×", "✗", "✘", "x", "n", "no", "错"}
MAX_TEXT = 1_000
MAX_NUMBER = 1e9
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# ---- one cell ---------------------------------------------------------------------------

def normalise_text(raw: str) -> str:
    """What a person meant: full-width digits and signs made half-width, NBSP and invisible
    characters removed, surrounding space stripped."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", raw)).strip()


def is_blank(raw) -> bool:
    if raw is None or raw == "":
        return True
    return isinstance(raw, str) and normalise_text(raw) == ""


def parse_value(indicator: Indicator, raw) -> tuple[float, list[tuple[str, dict]]]:
    """A raw cell value → (parsed value or NaN, [(problem kind, fields)])."""
    expected = {"expected": indicator.what_to_type()}
    if isinstance(raw, str) and len(raw) > MAX_TEXT:
        return math.nan, [("text_too_long", {"length": len(raw), **expected})]
    if isinstance(raw, (datetime, date, time, timedelta)):
        return math.nan, [("date_in_number", expected)]
    if indicator.type == "bool":
        return _parse_bool(raw)
    if indicator.type == "choice":
        text = normalise_text(str(raw)) if not isinstance(raw, float) else fmt_number(raw)
        if text in indicator.options:
            return float(indicator.options.index(text)), []
        return math.nan, [("choice_invalid", {"options": "、".join(indicator.options)})]
    number, notes = _parse_number(indicator, raw)
    if number is None:
        return math.nan, notes or [("not_a_number", expected)]
    if indicator.type == "percent":
        return _check_percent(indicator, number, raw, notes)
    return _check_bounds(indicator, number, notes)


def _parse_bool(raw):
    if isinstance(raw, bool):
        return float(raw), []
    if isinstance(raw, (int, float)) and raw in (0, 1):
        return float(raw), []
    text = normalise_text(str(raw)).lower()
    if text in TRUE_WORDS:
        return 1.0, []
    if text in FALSE_WORDS:
        return 0.0, []
    return math.nan, [("bool_invalid", {})]


def _parse_number(indicator, raw):
    """Numbers, numbers stored as text (with a note), '85%' for rates, a trailing unit."""
    if isinstance(raw, bool):
        return None, []
    if isinstance(raw, (int, float)):
        return (float(raw), []) if math.isfinite(raw) else (None, [])
    text = normalise_text(str(raw)).replace(",", "")
    is_percent = text.endswith("%")
    for suffix in ("%", indicator.unit, "万元"):
        if suffix and text.endswith(suffix):
            text = text[: -len(suffix)].strip()
    try:
        number = float(text)
    except ValueError:
        return None, []
    if not math.isfinite(number):
        return None, []
    if is_percent:
        if indicator.type != "percent":
            return None, []
        return number / 100, [("_percent_text", {})]
    return number, [("number_as_text", {"value": fmt_number(number) if abs(number) < 1e15 else text})]


def _check_percent(indicator, number, raw, notes):
    notes = [n for n in notes if n[0] != "number_as_text"]
    if any(kind == "_percent_text" for kind, _ in notes):
        notes = []
    elif 1 < number <= 100:
        number, notes = number / 100, [("percent_points", {"value": fmt_percent(number / 100)})]
    if not (indicator.min - 1e-12 <= number <= indicator.max + 1e-12):
        return math.nan, [("percent_out_of_range", {})]
    return number, notes


def _check_bounds(indicator, number, notes):
    expected = {"expected": indicator.what_to_type()}
    if number < 0:
        return math.nan, [("negative", expected)]
    if indicator.type == "count" and abs(number - round(number)) > 1e-9:
        return math.nan, [("not_integer", expected)]
    upper = indicator.max if indicator.max is not None else MAX_NUMBER
    if number < (indicator.min or 0) - 1e-12 or number > upper + 1e-12:
        return math.nan, [("out_of_bounds", expected)]
    return (float(round(number)) if indicator.type == "count" else number), notes


# ---- one workbook -------------------------------------------------------------------------

@dataclass
class SheetData:
    name: str
    visible: bool
    rows: list[list]
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)


def examine(data: bytes) -> tuple[dict, dict[str, SheetData] | sandbox.Failure | None]:
    """Pre-flight, then (if the file passed) parse: run together in a child process, so that the
    checks of many files use every core and anything that slips past them only kills the child."""
    verdict = intake.inspection(data)
    if verdict["rejected"]:
        return verdict, None
    try:
        return verdict, parse_workbook(data)
    except Exception as exc:  # calamine's own error types: a verdict on the file, not a failure of ours
        return verdict, sandbox.Failure("error", f"{type(exc).__name__}: {exc}"[:300])


def parse_workbook(data: bytes) -> dict[str, SheetData]:
    """The one place that hands untrusted bytes to python-calamine (see intake's pre-flight)."""
    from python_calamine import CalamineWorkbook
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    visible = {m.name: str(m.visible).lower().endswith("visible") for m in workbook.sheets_metadata}
    sheets = {}
    for name in workbook.sheet_names:
        sheet = workbook.get_sheet_by_name(name)
        merged = []
        try:
            merged = [(a[0], a[1], b[0], b[1]) for a, b in (sheet.merged_cell_ranges or [])]
        except Exception:  # merged ranges are optional information; some formats do not carry them
            merged = []
        sheets[name] = SheetData(name, visible.get(name, True), sheet.to_python(skip_empty_area=False), merged)
    workbook.close()
    return sheets


# One record per input cell of a submitted department sheet, kept as column lists per sheet:
# order is the file's submission rank (later saved, then later file time, then name, is higher).
RECORD_COLUMNS = ["district", "code", "value", "raw", "blank", "valid", "file", "sheet", "cell", "order"]


@dataclass
class FileReport:
    info: intake.FileInfo
    status: str = "已读取"  # 已读取 / 已拒绝 / 重复 / 非填报表 / 其他细则
    reason: str = ""
    supplied: list[str] = field(default_factory=list)  # departments with input in this file
    not_submitted: list[str] = field(default_factory=list)
    districts: list[str] = field(default_factory=list)
    superseded: int = 0  # values replaced by a later file


def submission_rank(info: intake.FileInfo) -> tuple:
    """Which of two submissions is later: the workbook's own saved time, then the file time, then the name."""
    return (info.submitted_at.timestamp(), info.modified.timestamp() if info.modified else 0.0, info.name)


def read_metadata(sheets: dict[str, SheetData]) -> dict[str, str] | None:
    meta = sheets.get(META_SHEET)
    if meta is None:
        return None
    out = {}
    for row in meta.rows:
        if len(row) >= 2 and isinstance(row[0], str) and row[0]:
            out[row[0]] = str(row[1])
    return out if out.get("tool") == TOOL else None


def read_file(info: intake.FileInfo, book: Rulebook, parsed=None, order: int = 0):
    """One file → (FileReport, records, problems). `parsed` is the file's parsed sheets (or a sandbox
    Failure) from `_examine_all`; when absent the file is examined here. Never raises for bad input."""
    report, found = FileReport(info), []
    name = info.name
    if parsed is None and not info.rejected:
        parsed = _examine_all([info])[id(info)]
    if info.rejected:
        report.status, report.reason = "已拒绝", info.rejected
        return report, [], [P.make("file_rejected", file=name, reason=info.rejected)]
    notes = []
    if info.macros:
        notes.append(P.make("file_macros", file=name))
    if info.format not in ("xlsx", "xlsm"):
        notes.append(P.make("file_format", file=name, format=info.format))
    sheets = parsed
    if isinstance(sheets, sandbox.Failure):
        reason = _parse_failure(sheets)
        report.status, report.reason = "已拒绝", reason
        return report, [], notes + [P.make("file_rejected", file=name, reason=reason)]
    meta = read_metadata(sheets)
    if meta is None:
        notes.append(P.make("no_metadata", file=name))
    elif meta.get("fingerprint") != book.fingerprint:
        reason = P.make("other_rulebook", file=name, found=f"{meta.get('title', '')}，{meta.get('year', '')}年度",
                        found_fp=meta.get("fingerprint", ""), expected_title=book.title, expected_fp=book.fingerprint)
        report.status, report.reason = "其他细则", reason.message
        return report, [], notes + [reason]
    districts = json.loads(meta["districts"]) if meta and meta.get("districts") else None
    report.districts = districts or []
    assigned = _assign_sheets(sheets, book, name, notes)
    if not assigned:
        report.status = "非填报表"
        report.reason = P.CATALOGUE["not_a_form"][1].format(sheets="、".join(sheets) or "无")
        return report, [], notes + [P.make("not_a_form", file=name, sheets="、".join(sheets) or "无")]
    expected_codes = {d: json.loads(meta[f"codes:{d}"]) for d in assigned if meta and f"codes:{d}" in meta}
    for department, sheet in assigned.items():
        sheet_records, sheet_problems = read_department_sheet(
            sheet, department, book, districts, info, expected_codes.get(department), order)
        notes.extend(sheet_problems)
        if not all(sheet_records["blank"]):
            report.supplied.append(department)
            found.append(sheet_records)
        else:
            report.not_submitted.append(department)  # shown in 来源, not a problem
    return report, found, notes


def _parse_failure(failure: sandbox.Failure) -> str:
    if failure.detail.startswith("PasswordError"):
        return "文件已加密（设置了打开密码），无法读取。请让该部门取消密码后重新发送。"
    if failure.kind == "crash":
        return "读取该文件时解析程序崩溃（文件结构异常，可能是恶意构造的文件），已拒绝。请让该部门用Excel另存为.xlsx后重新发送。"
    if failure.kind == "timeout":
        return f"读取该文件超过{int(sandbox.TIME_LIMIT)}秒仍未完成（文件结构异常），已拒绝。请让该部门用Excel另存为.xlsx后重新发送。"
    if failure.kind == "memory":
        return "读取该文件需要的内存远超正常填报表（文件结构异常），已拒绝。"
    kind = failure.detail.split(":")[0]
    return f"文件无法解析（{kind}），可能已损坏。请用Excel打开确认后另存为.xlsx再发送。"


def _assign_sheets(sheets, book, file_name, notes) -> dict[str, SheetData]:
    """Department → its sheet: by name, or by the codes it holds when a sheet was renamed."""
    by_department: dict[str, list[SheetData]] = {}
    for sheet in sheets.values():
        if sheet.name in (META_SHEET, GUIDE_SHEET):
            continue
        department = sheet.name.strip() if sheet.name.strip() in book.departments else _department_by_codes(sheet, book)
        if department:
            by_department.setdefault(department, []).append(sheet)
    assigned = {}
    for department in book.departments:
        found = by_department.get(department, [])
        if len(found) > 1:
            notes.append(P.make("sheet_duplicate", file=file_name, department=department,
                                sheets="、".join(s.name for s in found)))
            continue
        if found:
            sheet = found[0]
            if not sheet.visible:
                notes.append(P.make("sheet_hidden", file=file_name, sheet=sheet.name))
            if sheet.name != department:
                notes.append(P.make("sheet_renamed", file=file_name, sheet=sheet.name, department=department))
            assigned[department] = sheet
    return assigned


def _department_by_codes(sheet: SheetData, book: Rulebook) -> str | None:
    header = _find_header(sheet.rows)
    if header is None:
        return None
    row_index, code_col = header
    codes = {normalise_text(str(r[code_col])) for r in sheet.rows[row_index + 1:] if code_col < len(r)}
    owners = {book.indicators[c].department for c in codes if c in book.indicators}
    return owners.pop() if len(owners) == 1 else None


def _find_header(rows) -> tuple[int, int] | None:
    for r, row in enumerate(rows[:30]):
        for c, cell in enumerate(row[:60]):
            if isinstance(cell, str) and normalise_text(cell) == "编号":
                return r, c
    return None


def read_department_sheet(sheet: SheetData, department: str, book: Rulebook, districts: list[str] | None,
                          info: intake.FileInfo, expected_codes: list[str] | None, order: int = 0):
    """Records for every (code, district) input cell of one department sheet, and its problems."""
    name, out = info.name, []
    where = {"file": name, "sheet": sheet.name}
    header = _find_header(sheet.rows)
    if header is None:
        return {column: [] for column in RECORD_COLUMNS}, [P.make("no_header", **where)]
    header_row, code_col = header
    columns = _district_columns(sheet.rows[header_row], header_row, code_col, districts, where, out)
    code_rows = _code_rows(sheet.rows, header_row, code_col, department, book, where, out)
    wanted = expected_codes or [i.code for i in book.department_indicators(department)]
    errors = info.error_cells.get(sheet.name, set())
    formulas = info.formula_cells.get(sheet.name, {})
    merged = _merged_lookup([m for m in sheet.merged if m[0] > header_row])  # titles and context merges above are ours
    names, cols = list(columns), list(columns.values())
    letters = [xl_col_to_name(col) for col in cols]
    special = errors | set(formulas) | {xl_rowcol_to_cell(r, c) for r, c in merged}
    interpreted: dict = {}  # (type, raw) → outcome, per code: forms repeat the same few entries
    found = {column: [] for column in RECORD_COLUMNS}
    for code in wanted:
        if code not in book.indicators:
            continue
        indicator = book.indicators[code]
        row = code_rows.get(code)
        if row is None:
            out.append(P.make("code_missing", code=code, **where))
            continue
        values = sheet.rows[row]
        raws = [values[col] if col < len(values) else "" for col in cols]
        cells = [f"{letter}{row + 1}" for letter in letters]
        known = interpreted.setdefault(code, {})
        for raw in raws:
            key = (raw.__class__, raw)
            if key not in known:
                known[key] = _interpret(indicator, raw)
        outcomes = [known[(raw.__class__, raw)] for raw in raws]
        for i, outcome in enumerate(outcomes):
            if cells[i] in special:
                outcomes[i], problems = _read_cell(indicator, raws[i], names[i], cells[i], where, errors, formulas,
                                                   merged.get((row, cols[i])))
                out.extend(problems)
            elif outcome[4]:
                at = {"cell": cells[i], "district": names[i], "code": code, **where}
                out.extend(P.make(kind, raw=outcome[1], **fields, **at) for kind, fields in outcome[4])
        found["district"] += names
        found["code"] += [code] * len(names)
        for position, column in enumerate(("value", "raw", "blank", "valid")):
            found[column] += [outcome[position] for outcome in outcomes]
        found["cell"] += cells
    count = len(found["district"])
    found["file"], found["sheet"], found["order"] = [name] * count, [sheet.name] * count, [order] * count
    return found, out


def _interpret(indicator, raw):
    """What a cell's raw value means, independent of where it is: (value, raw text, blank, valid, notes)."""
    if is_blank(raw):
        return math.nan, "", True, True, []
    value, notes = parse_value(indicator, raw)
    return value, _raw_text(raw), False, not math.isnan(value), [n for n in notes if not n[0].startswith("_")]


def _read_cell(indicator, raw, district, cell, where, errors, formulas, merged_range):
    at = {"cell": cell, "district": district, "code": indicator.code, **where}
    problems = []
    if merged_range:
        problems.append(P.make("merged_input", range=merged_range, **at))
    if cell in errors:
        return (math.nan, "#错误值", False, False), problems + [
            P.make("error_value", raw="错误值", expected=indicator.what_to_type(), **at)]
    formula = formulas.get(cell)
    if formula is not None:
        if is_blank(raw):
            return (math.nan, f"={formula}", False, False, []), problems + [
                P.make("formula_no_value", raw=f"={formula}", formula=f"={formula}",
                       expected=indicator.what_to_type(), **at)]
        problems.append(P.make("formula_cached", raw=raw, formula=f"={formula}", **at))
    value, raw_text, blank, valid, notes = _interpret(indicator, raw)
    problems.extend(P.make(kind, raw=raw_text, **fields, **at) for kind, fields in notes)
    return (value, raw_text, blank, valid, []), problems


def _raw_text(raw) -> str:
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e15:
        return str(int(raw))
    return str(raw)


def _merged_lookup(merged) -> dict:
    lookup = {}
    for r0, c0, r1, c1 in merged:
        if (r1 - r0 + 1) * (c1 - c0 + 1) > 10_000:
            continue
        text = f"{xl_rowcol_to_cell(r0, c0)}:{xl_rowcol_to_cell(r1, c1)}"
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                lookup[(r, c)] = text
    return lookup


def _district_columns(header, header_row, code_col, districts, where, out) -> dict[str, int]:
    columns: dict[str, list[int]] = {}
    expected = None if districts is None else set(districts)
    for col, cell in enumerate(header):
        text = normalise_text(str(cell)) if cell is not None else ""
        if col == code_col or not text or text in CONTEXT_HEADERS:
            continue
        if expected is None or text in expected:
            columns.setdefault(text, []).append(col)
        else:
            out.append(P.make("district_unknown", raw=text, cell=xl_rowcol_to_cell(header_row, col), **where))
    result = {}
    for district, cols in columns.items():
        if len(cols) > 1:
            out.append(P.make("district_duplicate", district=district, **where))
        else:
            result[district] = cols[0]
    for district in districts or []:
        if district not in columns:
            out.append(P.make("district_missing", district=district, **where))
    return result


def _code_rows(rows, header_row, code_col, department, book, where, out) -> dict[str, int]:
    found: dict[str, list[int]] = {}
    for r in range(header_row + 1, len(rows)):
        cell = rows[r][code_col] if code_col < len(rows[r]) else ""
        code = normalise_text(str(cell)) if cell not in (None, "") else ""
        if not code:
            continue
        indicator = book.indicators.get(code)
        if indicator is None or indicator.department != department:
            out.append(P.make("code_unknown", raw=code, cell=xl_rowcol_to_cell(r, code_col), **where))
            continue
        found.setdefault(code, []).append(r)
    result = {}
    for code, hits in found.items():
        if len(hits) > 1:
            out.append(P.make("code_duplicate", code=code, cell=xl_rowcol_to_cell(hits[1], code_col), **where))
        else:
            result[code] = hits[0]
    return result


# ---- many files ---------------------------------------------------------------------------

@dataclass
class ReadResult:
    values: pd.DataFrame  # district × code, NaN where nothing usable was reported
    problems: list[Problem]
    files: list[FileReport]
    skipped: list[tuple[str, str]]
    districts: list[str]
    winners: pd.DataFrame  # one row per (district, code) that has a value: file, sheet, cell, raw
    supply: pd.DataFrame  # department × district: the file that supplied the latest values ('' if none)

    @property
    def unreadable(self) -> pd.DataFrame:
        """district × code: True where the winning entry could not be understood (so it is not scored)."""
        flags = pd.DataFrame(False, index=self.values.index, columns=self.values.columns)
        bad = self.winners[~self.winners["valid"].astype(bool)]
        for district, code in zip(bad["district"].tolist(), bad["code"].tolist()):
            flags.at[district, code] = True
        return flags


def read_all(infos: list[intake.FileInfo], book: Rulebook, strict_conflicts: bool = False,
             skipped: list[tuple[str, str]] | None = None) -> ReadResult:
    """Read every file, then merge: the later submission wins each (district, code)."""
    problems, reports, records, by_hash, unique = [], [], [], {}, []
    for name, reason in skipped or []:
        if reason.startswith("同一文件") or reason == "文件不存在":
            problems.append(P.make("file_rejected", file=name, reason=reason, level=P.WARNING))
    for info in infos:
        if info.sha256 and info.sha256 in by_hash:
            report = FileReport(info, "重复", f"与“{by_hash[info.sha256]}”内容完全相同，只计一次。")
            reports.append(report)
            problems.append(P.make("file_duplicate", file=info.name, other=by_hash[info.sha256]))
            continue
        if info.sha256:
            by_hash[info.sha256] = info.name
        unique.append(info)
    parsed = _examine_all([info for info in unique if not info.rejected])
    rank = {id(info): n for n, info in enumerate(sorted(unique, key=submission_rank))}
    for info in unique:
        report, found, notes = read_file(info, book, parsed.get(id(info)), rank[id(info)])
        reports.append(report)
        records.extend(found)
        problems.extend(notes)
    districts = _districts(reports, records)
    frame = _records_frame(records, districts)
    values, winners, merge_problems = merge(frame, book, districts, strict_conflicts, reports)
    problems.extend(merge_problems)
    problems.extend(_unsupplied(frame, book, districts))
    supply = _supply(winners, book, districts)
    problems.sort(key=P.sort_key)
    return ReadResult(values, problems, reports, list(skipped or []), districts, winners, supply)


def _examine_all(infos: list[intake.FileInfo]) -> dict:
    """id(info) → parsed sheets or a Failure; each info gets its pre-flight verdict."""
    parsed = {}
    for info, result in zip(infos, sandbox.run_isolated(examine, [i.data for i in infos])):
        if isinstance(result, sandbox.Failure):
            parsed[id(info)] = result
            continue
        verdict, sheets = result
        for name, value in verdict.items():
            setattr(info, name, value)
        parsed[id(info)] = sheets
    return parsed


def _districts(reports, records) -> list[str]:
    ordered = {}
    for report in reports:
        for district in report.districts:
            ordered.setdefault(district, None)
    for columns in records:
        for district in dict.fromkeys(columns["district"]):
            ordered.setdefault(district, None)
    return list(ordered)


def _records_frame(records, districts) -> pd.DataFrame:
    frame = pd.DataFrame({column: [x for columns in records for x in columns[column]] for column in RECORD_COLUMNS})
    frame = frame.astype({"value": float, "blank": bool, "valid": bool})
    return frame[frame["district"].isin(districts)]


def merge(frame: pd.DataFrame, book: Rulebook, districts, strict: bool, reports):
    """Latest non-blank record per (district, code); conflicts and 缺报 become problems."""
    key = ["district", "code"]
    filled = frame[~frame["blank"]].sort_values("order", kind="stable").reset_index(drop=True)
    filled["_row"] = np.arange(len(filled))
    winners = filled.groupby(key, sort=False).tail(1)
    differing = _superseded_records(filled, winners, key)
    kind = "conflict_strict" if strict else "conflict"
    fields = ["district", "code", "raw", "file", "raw_w", "file_w", "sheet_w", "cell_w"]
    problems = [P.make(kind, file=file_w, sheet=sheet_w, cell=cell_w, district=district, code=code, raw=raw_w,
                       old=P.shorten(raw), old_file=file, winner=P.shorten(raw_w), winner_file=file_w)
                for district, code, raw, file, raw_w, file_w, sheet_w, cell_w
                in zip(*(differing[f].tolist() for f in fields))]  # plain lists: pandas row access is slow
    superseded = differing["file"].value_counts().to_dict()
    for report in reports:
        report.superseded = int(superseded.get(report.info.name, 0))
    if strict and len(differing):
        contested = pd.MultiIndex.from_frame(differing[key].drop_duplicates())
        winners = winners[~pd.MultiIndex.from_frame(winners[key]).isin(contested)]
    usable = winners[winners["valid"]]
    values = (usable.pivot(index="district", columns="code", values="value").astype(float)
              .reindex(index=districts, columns=list(book.indicators)))
    values.index.name, values.columns.name = "区", None
    problems.extend(_blank_problems(frame, filled, book))
    return values, winners.drop(columns="_row").reset_index(drop=True), problems


def _superseded_records(filled, winners, key) -> pd.DataFrame:
    """Earlier records whose value differs from the one that won, each beside its winner (suffix _w)."""
    joined = filled.merge(winners[key + ["_row", "value", "raw", "valid", "file", "sheet", "cell"]],
                          on=key, suffixes=("", "_w"))
    joined = joined[joined["_row"] != joined["_row_w"]]
    both_valid = joined["valid"] & joined["valid_w"]
    differs = np.where(both_valid, (joined["value"] - joined["value_w"]).abs() > 1e-9, joined["raw"] != joined["raw_w"])
    return joined[differs]


def _blank_problems(frame, filled, book) -> list[Problem]:
    """缺报 for required cells left blank in submitted sheets and not filled in any other file."""
    have = set(zip(filled["district"].tolist(), filled["code"].tolist()))
    blanks = frame[frame["blank"]].sort_values("order", kind="stable").groupby(["district", "code"], sort=False).tail(1)
    out = []
    for row in blanks.itertuples(index=False):
        indicator = book.indicators[row.code]
        if (row.district, row.code) in have or indicator.blank_is_zero:
            continue
        out.append(P.make("missing", file=row.file, sheet=row.sheet, cell=row.cell, district=row.district,
                          code=row.code, expected=indicator.what_to_type()))
    return out


def _unsupplied(frame, book, districts) -> list[Problem]:
    """One problem per department that no file supplied for some district."""
    supplied = set(zip(frame["district"].tolist(), frame["code"].tolist()))
    out = []
    for department in book.departments:
        codes = [i.code for i in book.department_indicators(department) if not i.blank_is_zero]
        if not codes:
            continue
        lacking = [d for d in districts if not any((d, c) in supplied for c in codes)]
        if lacking:
            problem = P.make("department_missing", sheet=department, department=department, count=len(lacking))
            out.append(Problem(**{**problem.as_row(), "district": "、".join(lacking)}))
    return out


def _supply(winners, book, districts) -> pd.DataFrame:
    """department × district: the file that supplied the latest values ('' if none)."""
    departments = [d for d in book.departments if book.department_indicators(d)]
    owner = {code: indicator.department for code, indicator in book.indicators.items()}
    latest = (winners.assign(department=winners["code"].map(owner)).sort_values("order", kind="stable")
              .groupby(["department", "district"]).tail(1))
    supply = latest.pivot(index="department", columns="district", values="file").reindex(
        index=departments, columns=districts).astype(object).fillna("")
    supply.index.name, supply.columns.name = "部门", None
    return supply


def read_gathered(found, skipped, book: Rulebook, strict_conflicts: bool = False, progress=None) -> ReadResult:
    """Load and pre-flight each gathered file (calling progress(name) after each), then read them all."""
    infos = []
    for path, name in found:
        infos.append(intake.load(path, name))
        if progress:
            progress(name)
    return read_all(infos, book, strict_conflicts, skipped)


def read_paths(paths, book: Rulebook, strict_conflicts: bool = False, progress=None) -> ReadResult:
    """Gather files from paths (files and folders, any mix) and read them."""
    found, skipped = intake.gather(paths)
    return read_gathered(found, skipped, book, strict_conflicts, progress)
