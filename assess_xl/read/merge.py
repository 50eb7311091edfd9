"""Many returned files → one table of values: each file read in a child (units.read_unit), the
districts of the run decided once for all files, every cell record matched to a district by the
same comparison (layout.name_key), the later submission winning each (district, code), and every
problem collected, never raised."""
from __future__ import annotations

import itertools
import re
from typing import Any
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from assess_xl.read import gather

from assess_xl import problems as P

from assess_xl.read.cells import refusal
from assess_xl.xlsx.layout import district_name_problems, name_key, normalise_text
from assess_xl.read.gather import SEPARATOR
from assess_xl.problems import Problem
from assess_xl.read.form import CELL_COLUMNS, DUPLICATE, READ, RECORD_COLUMNS, FileRead, SheetRead
from assess_xl.xlsx.collector import collection_paused
from assess_xl.rules.model import Rulebook
from assess_xl.problems import Code

EXCLUDED = "已排除"

FRAME_COLUMNS = ("district", *[c for c in RECORD_COLUMNS if c != "key"])


@dataclass
class FileReport:
    """What one file contributed, for 来源 and status."""
    info: gather.FileInfo
    status: str = READ  # 已读取 / 已拒绝 / 重复 / 非填报表 / 其他细则 / 本工具输出
    reason: str = ""
    supplied: list[str] = field(default_factory=list)  # departments with input in this file
    not_submitted: list[str] = field(default_factory=list)
    superseded: int = 0  # values replaced by a later file


@dataclass
class ReadResult:
    values: pd.DataFrame  # district × code, NaN where nothing usable was reported
    problems: list[Problem]
    files: list[FileReport]
    skipped: list[gather.Skipped]
    districts: list[str]
    winners: pd.DataFrame  # one row per (district, code) that has a value: file, sheet, cell, raw
    supply: pd.DataFrame  # department × district: the file that supplied the latest values ('' if none)
    worker_failures: list[str] = field(default_factory=list)  # files no child could read: the run must stop
    adjustments: list[dict[str, Any]] = field(default_factory=list)  # the coordinator's changes applied (调整记录)
    adjustments_file: str = ""

    @property
    def unreadable(self) -> pd.DataFrame:
        """district × code: True where the winning entry could not be understood (so it is not scored)."""
        flags = pd.DataFrame(False, index=self.values.index, columns=self.values.columns)
        bad = self.winners[~self.winners["valid"].astype(bool)]
        for district, code in zip(bad["district"].tolist(), bad["code"].tolist()):
            flags.at[district, code] = True
        return flags

    def refused(self, book: Rulebook) -> pd.DataFrame:
        """district × code: why the winning entry was not taken, quoting it ('“3.5”超过最高分3'); '' where it was."""
        reasons = pd.DataFrame("", index=self.values.index, columns=self.values.columns, dtype=object)
        bad = self.winners[~self.winners["valid"].astype(bool)]
        for district, code, raw in zip(bad["district"].tolist(), bad["code"].tolist(), bad["raw"].tolist()):
            reasons.at[district, code] = f"“{P.shorten(str(raw), 30)}”{refusal(book.indicators[code], raw)}"
        return reasons

    @property
    def anything_filled(self) -> bool:
        return bool(len(self.winners))


def merge_reads(reads: list[FileRead], failures: list[str], skipped: list[gather.Skipped], book: Rulebook,
                strict_conflicts: bool = False, districts: list[str] | None = None,
                excluded: list[Any] | None = None) -> ReadResult:
    """The files read (read.dispatch), less those the coordinator excluded, merged into one result (its problems
    in the order 问题清单 shows them); the files no child could read are carried as worker failures."""
    kept, unmatched = _exclude(reads, excluded or [])
    with collection_paused():
        result = merge_files(kept, book, strict_conflicts, skipped, districts)
    in_order = sorted([*result.problems, *unmatched], key=P.sort_key) if unmatched else result.problems
    return replace(result, problems=in_order, worker_failures=failures)


def _exclude(reads: list[FileRead], excluded: list[Any]) -> tuple[list[FileRead], list[Problem]]:
    """Files the coordinator excluded contribute nothing: matched by any name the file is shown under
    in 来源 (as shown, each attachment or member name, the saved file, its SHA-256); a row of 排除文件
    (adjustments.Exclusion) that matches no file is said."""
    if not excluded:
        return reads, []
    wanted = {_exclusion_key(row.typed): row for row in excluded}
    used: set[str] = set()
    out = []
    for read in reads:
        keys = [key for key in shown_names(read.info) if key in wanted]
        if not keys:
            out.append(read)
            continue
        used.update(keys)
        reason = wanted[keys[0]].reason
        out.append(FileRead(read.info, EXCLUDED, P.text(Code.FILE_EXCLUDED, reason=reason),
                            [P.make(Code.FILE_EXCLUDED, file=read.info.name, reason=reason)]))
    return out, [row.unmatched for key, row in wanted.items() if key not in used]


def shown_names(info: gather.FileInfo) -> set[str]:
    """Every name a file is shown under, compared as exclusions are: the whole `inbox/a.eml › b.zip ›
    c.xlsx`, each run of its parts (`a.eml`, `c.xlsx`, `b.zip › c.xlsx`…), the saved file, the SHA-256."""
    parts = info.name.split(SEPARATOR)
    runs = [SEPARATOR.join(parts[i:j]) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)]
    runs += [run.replace("\\", "/").rsplit("/", 1)[-1] for run in runs]
    return {_exclusion_key(name) for name in (*runs, info.path.name, info.sha256) if name}


def _exclusion_key(name: str) -> str:
    """How a typed name is compared: width, case and the spaces around › (or >) do not matter."""
    return re.sub(r"\s*[›>]\s*", "›", normalise_text(name).replace("\\", "/")).casefold()


# ---- the districts of a run -----------------------------------------------------------------

def run_districts(reads: list[FileRead], explicit: list[str] | None) -> tuple[list[str], list[Problem]]:
    """The districts of this run: the list given by the coordinator, else the list that most
    consistent returns carry (a form's metadata, else its header). One sender cannot add a district."""
    if explicit is not None:
        return list(explicit), []
    votes: Counter[tuple[str, ...]] = Counter()
    names: dict[tuple[str, ...], list[str]] = {}
    keys: dict[tuple[str, ...], tuple[str, ...] | None] = {}  # each distinct list checked once: most files agree
    for read in sorted(reads, key=lambda r: r.meta is None or not r.meta.districts):  # names as the forms wrote them first
        listed = _listed_districts(read)
        if not listed:
            continue
        as_written = tuple(listed)
        if as_written not in keys:
            keys[as_written] = None if district_name_problems(listed) else tuple(name_key(n) for n in listed)
        key = keys[as_written]
        if key is not None:
            votes[key] += 1
            names.setdefault(key, listed)
    if not votes:
        return [], []
    ranked = votes.most_common()
    best, count = ranked[0]
    tied = [key for key, n in ranked if n == count]
    if len(tied) == 1:
        return names[best], []
    common = [n for n in names[tied[0]] if all(name_key(n) in set(key) for key in tied)]
    lists = "；".join("、".join(names[key]) for key in tied)
    return common, [P.make(Code.DISTRICTS_DISAGREE, count=count, lists=lists, kept="、".join(common) or "无")]


def _listed_districts(read: FileRead) -> list[str] | None:
    if read.status != READ or not read.sheets:
        return None
    if read.meta is not None and read.meta.districts:
        return read.meta.districts
    return list(read.sheets[0].columns.headers)


# ---- merging --------------------------------------------------------------------------------

def merge_files(reads: list[FileRead], book: Rulebook, strict: bool = False, skipped: list[gather.Skipped] | None = None,
                districts: list[str] | None = None) -> ReadResult:
    problems: list[Problem] = []
    for skip in skipped or []:
        if P.CATALOGUE[skip.code][0] != P.INFO:  # lock files, hidden files and the like are only listed in 来源
            problems.append(P.make(skip.code, file=skip.name))
    reads, reports = _unique(reads, problems)
    chosen, district_problems = run_districts(reads, districts)
    problems.extend(district_problems)
    index = {name_key(d): d for d in chosen}
    position = {key: n for n, key in enumerate(sorted({read.info.submission_key for read in reads}))}
    rank = {id(read): position[read.info.submission_key] for read in reads}  # equal when nothing says which is later
    records: list[dict[str, list[Any]]] = []
    for read in reads:
        report = FileReport(read.info, read.status, read.reason)
        reports.append(report)
        problems.extend(read.problems)
        for sheet in read.sheets:
            settled, sheet_problems = _settle(sheet, index, rank[id(read)], read.info.name)
            problems.extend(sheet_problems)
            if not all(settled["blank"]):
                report.supplied.append(sheet.department)
                records.append(settled)
            else:
                report.not_submitted.append(sheet.department)  # shown in 来源, not a problem
    frame = with_positions(_records_frame(records), chosen, book)
    values, winners, merge_problems = merge(frame, book, chosen, strict, reports)
    problems = _without_superseded(problems, winners) + merge_problems
    problems.extend(_unsupplied(frame, book, chosen))
    supply = _supply(winners, book, chosen)
    winners = winners.drop(columns=list(POSITIONS))
    problems.sort(key=P.sort_key)
    return ReadResult(values, problems, reports, list(skipped or []), chosen, winners, supply)


MERGE_KINDS = {Code.CONFLICT, Code.CONFLICT_STRICT, Code.CORRECTED, Code.MISSING}


def _without_superseded(problems: list[Problem], winners: pd.DataFrame) -> list[Problem]:
    """A cell's problem no longer counts once a later file gave that (district, code) a valid value
    (the merge reports the correction instead)."""
    cells = [p for p in problems if p.cell and p.code and p.district and p.kind not in MERGE_KINDS]
    if not cells:  # as in a clean year: no need to look at every winner
        return problems
    won = {(d, c): f for d, c, f, v in zip(winners["district"].tolist(), winners["code"].tolist(),
                                           winners["file"].tolist(), winners["valid"].tolist()) if v}
    return [p for p in problems
            if not (p.cell and p.code and p.district and p.kind not in MERGE_KINDS
                    and won.get((p.district, p.code), p.file) != p.file)]


def _unique(reads: list[FileRead], problems: list[Problem]) -> tuple[list[FileRead], list[FileReport]]:
    """The same content twice counts once (by SHA-256)."""
    first: dict[str, str] = {}
    unique, reports = [], []
    for read in reads:
        digest = read.info.sha256
        if digest and digest in first:
            reports.append(FileReport(read.info, DUPLICATE, f"与“{first[digest]}”内容完全相同，只计一次。"))
            problems.append(P.make(Code.FILE_DUPLICATE, file=read.info.name, other=first[digest]))
            continue
        if digest:
            first[digest] = read.info.name
        unique.append(read)
    return unique, reports


def _settle(sheet: SheetRead, index: dict[str, str], order: int,
            file_name: str) -> tuple[dict[str, list[Any]], list[Problem]]:
    """A sheet's records matched to the run's districts; columns of other districts become problems."""
    where = {"file": file_name, "sheet": sheet.sheet}
    problems = []
    headers = set(sheet.columns.keys)
    for key, header, cell, filled in zip(*sheet.columns):
        if key not in index:
            kind = Code.DISTRICT_UNKNOWN_FILLED if filled else Code.DISTRICT_UNKNOWN
            problems.append(P.make(kind, raw=header, cell=cell, **where))
    for key, district in index.items():
        if key not in headers:
            problems.append(P.make(Code.DISTRICT_MISSING, district=district, **where))
    for problem in sheet.problems:
        key = name_key(problem.district)
        if not problem.district or key in index:
            problems.append(problem.with_district(index.get(key, "")))
    keys, codes = sheet.columns.keys, sheet.codes
    if index.keys() >= set(keys):  # every column a district of the run, as in almost every return: taken as read
        settled = {column: sheet.records[column] for column in CELL_COLUMNS}
        settled["district"] = list(map(index.__getitem__, keys)) * len(codes)
        settled["code"] = list(itertools.chain.from_iterable(itertools.repeat(code, len(keys)) for code in codes))
    else:
        kept = [n for n, key in enumerate(keys) if key in index]
        keep = [start + n for start in range(0, len(keys) * len(codes), len(keys)) for n in kept]
        settled = {column: [sheet.records[column][i] for i in keep] for column in CELL_COLUMNS}
        settled["district"] = [index[keys[n]] for n in kept] * len(codes)
        settled["code"] = list(itertools.chain.from_iterable(itertools.repeat(code, len(kept)) for code in codes))
    count = len(settled["district"])
    settled["file"], settled["sheet"], settled["order"] = [file_name] * count, [sheet.sheet] * count, [order] * count
    return settled, problems


NUMERIC_TYPES = {"value": np.float64, "blank": np.bool_, "valid": np.bool_, "order": np.int64}


def _records_frame(records: list[dict[str, list[Any]]]) -> pd.DataFrame:
    """The sheets' records as one frame; the numbers, flags and order as arrays of their types from the start
    (pandas would first look at every cell of them to infer one)."""
    columns: dict[str, Any] = {}
    for column in FRAME_COLUMNS:
        joined = list(itertools.chain.from_iterable(settled[column] for settled in records))
        columns[column] = np.array(joined, dtype=NUMERIC_TYPES[column]) if column in NUMERIC_TYPES else joined
    return pd.DataFrame(columns)


def merge(frame: pd.DataFrame, book: Rulebook, districts: list[str], strict: bool,
          reports: list[FileReport]) -> tuple[pd.DataFrame, pd.DataFrame, list[Problem]]:
    """Latest non-blank record per (district, code); conflicts, ties and 缺报 become problems. Records
    of equal order were submitted at the same time: when they differ, no value is taken."""
    filled = frame[~frame["blank"]].sort_values("order", kind="stable").reset_index(drop=True)
    group = _pairs(filled)  # each record's (district, code), numbered
    winner_of = _latest(group)[group]  # the row of each record's winner: the last of its (district, code)
    is_winner = winner_of == np.arange(len(filled))
    winners = filled[is_winner]
    differing, rows = _superseded_records(filled, winner_of)
    tied = differing["order"] == differing["order_w"]
    problems = _conflicts(differing, tied.tolist(), strict, book)
    superseded = differing[~tied]["file"].value_counts().to_dict()
    for report in reports:
        report.superseded = int(superseded.get(report.info.name, 0))
    disputed = (tied | ~(differing["valid_w"] & ~differing["valid"])).to_numpy()  # a correction is not a dispute
    contested = rows[disputed if strict else tied.to_numpy()]
    if len(contested):
        winners = filled[is_winner & ~np.isin(group, group[contested])]
    usable = winners[winners["valid"]]
    values = value_table(usable, districts, list(book.indicators), _district_positions(usable, districts),
                         _code_positions(usable, book))
    problems.extend(_blank_problems(frame, filled, book))
    return values, winners.reset_index(drop=True), problems


POSITIONS = ("_district_at", "_code_at")  # a record's district and code as positions in the run's and the rulebook's


def with_positions(frame: pd.DataFrame, districts: list[str], book: Rulebook) -> pd.DataFrame:
    """`frame` with each record's district and code as positions in `districts` and in the rulebook's codes (-1
    for none), worked out once for the steps after it, which would each look the texts up again."""
    return frame.assign(_district_at=_positions(frame["district"], {district: n for n, district in enumerate(districts)}),
                        _code_at=_positions(frame["code"], {code: n for n, code in enumerate(book.indicators)}))


def _district_positions(frame: pd.DataFrame, districts: list[str]) -> np.ndarray:
    """Each record's district as a position in `districts` (the run's, as with_positions was given), -1 for none."""
    if POSITIONS[0] in frame:
        return np.asarray(frame[POSITIONS[0]].to_numpy(), dtype=int)
    return _positions(frame["district"], {district: n for n, district in enumerate(districts)})


def _code_positions(frame: pd.DataFrame, book: Rulebook) -> np.ndarray:
    """Each record's code as a position in the rulebook's codes, -1 for none."""
    if POSITIONS[1] in frame:
        return np.asarray(frame[POSITIONS[1]].to_numpy(), dtype=int)
    return _positions(frame["code"], {code: n for n, code in enumerate(book.indicators)})


def _pairs(filled: pd.DataFrame) -> np.ndarray:
    """Each record's (district, code) as a number, the same for the same pair: from their positions when
    every record has both, else from the texts."""
    if all(column in filled for column in POSITIONS):
        districts, codes = (np.asarray(filled[column].to_numpy(), dtype=int) for column in POSITIONS)
        if len(filled) and min(districts.min(), codes.min()) >= 0:
            return np.asarray(pd.factorize(districts * (int(codes.max()) + 1) + codes)[0], dtype=int)
    return np.asarray(filled.groupby(["district", "code"], sort=False).ngroup().to_numpy(), dtype=int)


def _latest(group: np.ndarray) -> np.ndarray:
    """For each group number, the last row that holds it."""
    latest = np.full(int(group.max()) + 1 if len(group) else 0, -1)
    np.maximum.at(latest, group, np.arange(len(group)))
    return latest


def value_table(usable: pd.DataFrame, districts: list[str], codes: list[str], rows: np.ndarray | None = None,
                columns: np.ndarray | None = None) -> pd.DataFrame:
    """district × code: each (district, code)'s one usable value, NaN elsewhere (what pivot and reindex give,
    placed through positions looked up once per distinct name instead)."""
    table = np.full((len(districts), len(codes)), np.nan)
    if rows is None or columns is None:  # each record's district and code as positions, when not given
        rows = _positions(usable["district"], {district: n for n, district in enumerate(districts)})
        columns = _positions(usable["code"], {code: n for n, code in enumerate(codes)})
    known = (rows >= 0) & (columns >= 0)
    table[rows[known], columns[known]] = usable["value"].to_numpy(dtype=float)[known]
    return pd.DataFrame(table, index=pd.Index(districts, name="区"), columns=pd.Index(codes))


CONFLICT_FIELDS = ("district", "code", "file", "raw", "valid", "file_w", "sheet_w", "cell_w", "raw_w", "valid_w")


def _conflicts(differing: pd.DataFrame, tied: list[bool], strict: bool, book: Rulebook) -> list[Problem]:
    """The problem of each earlier record that differs from its winner, read from whole columns."""
    columns = [differing[column].tolist() for column in CONFLICT_FIELDS]
    return [_conflict(dict(zip(CONFLICT_FIELDS, row)), strict, tie, book) for row, tie in zip(zip(*columns), tied)]


def _conflict(row: dict[str, Any], strict: bool, tie: bool, book: Rulebook) -> Problem:
    """An earlier record that differs from the winner: a tie (nothing says which is later), a
    correction of an unreadable entry, or a conflict (the later wins, or none under --on-conflict error)."""
    if tie:
        kind = Code.CONFLICT_STRICT if strict else Code.CONFLICT_TIE
    elif row["valid_w"] and not row["valid"]:
        kind = Code.CORRECTED
    else:
        kind = Code.CONFLICT_STRICT if strict else Code.CONFLICT
    return P.make(kind, file=row["file_w"], sheet=row["sheet_w"], cell=row["cell_w"], district=row["district"],
                  code=row["code"], raw=row["raw_w"], old=P.shorten(row["raw"]), old_file=row["file"],
                  winner=P.shorten(row["raw_w"]), winner_file=row["file_w"],
                  why=refusal(book.indicators[row["code"]], row["raw"]) if kind == Code.CORRECTED else "")


WINNER_FIELDS = ("value", "raw", "valid", "file", "sheet", "cell", "order")


def _superseded_records(filled: pd.DataFrame, winner_of: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Earlier records whose value differs from the one that won, each beside its winner (suffix _w), in the
    order of `filled`, and their rows in it."""
    rows = np.flatnonzero(winner_of != np.arange(len(filled)))
    winner = winner_of[rows]
    columns = {column: filled[column].to_numpy()[rows] for column in filled.columns}
    columns.update({f"{column}_w": filled[column].to_numpy()[winner] for column in WINNER_FIELDS})
    both_valid = columns["valid"] & columns["valid_w"]
    with np.errstate(invalid="ignore"):
        differs = np.where(both_valid, np.abs(columns["value"] - columns["value_w"]) > 1e-9,
                           columns["raw"] != columns["raw_w"])
    return pd.DataFrame({column: values[differs] for column, values in columns.items()}), rows[differs]


def _blank_problems(frame: pd.DataFrame, filled: pd.DataFrame, book: Rulebook) -> list[Problem]:
    """缺报 for required cells left blank in submitted sheets and not filled in any other file."""
    blanks = frame[frame["blank"]].sort_values("order", kind="stable").groupby(["district", "code"], sort=False).tail(1)
    required = [code for code, indicator in book.indicators.items() if not indicator.blank_is_zero]
    blanks = blanks[blanks["code"].isin(required)]
    if not len(blanks):
        return []
    have = set(zip(filled["district"].tolist(), filled["code"].tolist()))
    out = []
    for row in blanks.itertuples(index=False):
        indicator = book.indicators[row.code]
        if (row.district, row.code) in have:
            continue
        out.append(P.make(Code.MISSING, file=row.file, sheet=row.sheet, cell=row.cell, district=row.district,
                          code=row.code, expected=indicator.what_to_type()))
    return out


def _unsupplied(frame: pd.DataFrame, book: Rulebook, districts: list[str]) -> list[Problem]:
    """One problem per department that no file supplied for some district."""
    departments = {department: n for n, department in enumerate(book.departments)}
    owner = {code: departments[indicator.department] for code, indicator in book.indicators.items()
             if not indicator.blank_is_zero and indicator.department in departments}
    rows = _owners(_code_positions(frame, book), [owner.get(code, -1) for code in book.indicators])
    columns = _district_positions(frame, districts)
    known = (rows >= 0) & (columns >= 0)
    supplied = np.zeros((len(departments), len(districts)), dtype=bool)  # department × district: some record
    supplied[rows[known], columns[known]] = True
    out = []
    for department in book.departments:
        codes = [i.code for i in book.department_indicators(department) if not i.blank_is_zero]
        if not codes:
            continue
        lacking = [d for d, found in zip(districts, supplied[departments[department]].tolist()) if not found]
        if lacking:
            problem = P.make(Code.DEPARTMENT_MISSING, sheet=department, department=department, count=len(lacking))
            out.append(problem.with_district("、".join(lacking)))
    return out


def _owners(codes: np.ndarray, owner: list[int]) -> np.ndarray:
    """Each code position's owner (`owner[position]`), -1 for a code of none or of no position."""
    table = np.array([*owner, -1], dtype=int)  # position -1 reads the last entry: none
    return table[codes] if len(codes) else np.zeros(0, dtype=int)


def _positions(column: pd.Series, position: dict[str, int]) -> np.ndarray:
    """Each cell's position by `position`, -1 where it has none (looked up once per distinct text)."""
    ids, names = pd.factorize(column)
    found = np.array([position.get(name, -1) for name in names], dtype=int)
    return found[ids] if len(ids) else np.zeros(0, dtype=int)


def _supply(winners: pd.DataFrame, book: Rulebook, districts: list[str]) -> pd.DataFrame:
    """department × district: the file that supplied the latest values ('' if none)."""
    departments = [d for d in book.departments if book.department_indicators(d)]
    row = {department: n for n, department in enumerate(departments)}
    owner = {code: row[indicator.department] for code, indicator in book.indicators.items()
             if indicator.department in row}
    latest = winners.sort_values("order", kind="stable")  # the last file written into a cell is the latest
    rows = _owners(_code_positions(latest, book), [owner.get(code, -1) for code in book.indicators])
    columns = _district_positions(latest, districts)
    known = (rows >= 0) & (columns >= 0)
    files = np.full((len(departments), len(districts)), "", dtype=object)
    cells = rows[known] * len(districts) + columns[known]
    last = np.full(files.size, -1)
    np.maximum.at(last, cells, np.arange(len(cells)))  # the latest record of each cell
    written = np.flatnonzero(last >= 0)
    files.flat[written] = latest["file"].to_numpy(dtype=object)[known][last[written]]
    return pd.DataFrame(files, index=pd.Index(departments, name="部门"), columns=pd.Index(districts), dtype=object)
