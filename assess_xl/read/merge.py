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
from assess_xl.xlsx.layout import district_name_problems, name_key, normalise_text, repeated_name_key
from assess_xl.read.gather import SEPARATOR
from assess_xl.problems import Problem
from assess_xl.read.form import DUPLICATE, READ, DistrictColumns, FileRead, SheetRead
from assess_xl.read.records import Placed, Placing, Records, Sheets, latest, records_of, text_dtype
from assess_xl.xlsx.collector import collection_paused
from assess_xl.rules.model import Rulebook
from assess_xl.problems import Code

EXCLUDED = "已排除"


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
    return replace(result, problems=P.in_order([], result.problems, unmatched), worker_failures=failures)


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
            keys[as_written] = None if district_name_problems(listed) else tuple(map(repeated_name_key, listed))
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
    positions = Positions.of(chosen, book)
    position = {key: n for n, key in enumerate(sorted({read.info.submission_key for read in reads}))}
    rank = {id(read): position[read.info.submission_key] for read in reads}  # equal when nothing says which is later
    placed: list[Placed] = []
    for read in reads:
        report = FileReport(read.info, read.status, read.reason)
        reports.append(report)
        problems.extend(read.problems)
        for sheet in read.sheets:
            settled, sheet_problems = _settle(sheet, positions, rank[id(read)], read.info.name)
            problems.extend(sheet_problems)
            if _submitted(settled):
                report.supplied.append(sheet.department)
                placed.append(settled)
            else:
                report.not_submitted.append(sheet.department)  # shown in 来源, not a problem
    records = records_of(placed, chosen, list(positions.code_at))
    values, winners, conflicts, missing = merge(records, book, strict, reports)
    problems = P.in_order(_without_superseded(problems, winners), conflicts, missing + _unsupplied(records, book))
    supply = _supply(winners, book)
    return ReadResult(values, problems, reports, list(skipped or []), chosen, winners.frame(text_dtype(records)), supply)


MERGE_KINDS = {Code.CONFLICT, Code.CONFLICT_STRICT, Code.CORRECTED, Code.MISSING}


def _without_superseded(problems: list[Problem], winners: Records) -> list[Problem]:
    """A cell's problem no longer counts once a later file gave that (district, code) a valid value
    (the merge reports the correction instead)."""
    cells = [p for p in problems if p.cell and p.code and p.district and p.kind not in MERGE_KINDS]
    if not cells:  # as in a clean year: no need to look at every winner
        return problems
    won = {(d, c): f for d, c, f, v in zip(winners.texts("district").tolist(), winners.texts("code").tolist(),
                                           winners.file.tolist(), winners.valid.tolist()) if v}
    return [p for p in problems
            if not (p.cell and p.code and p.district and p.kind not in MERGE_KINDS
                    and won.get((p.district, p.code), p.file) != p.file)]


def _unique(reads: list[FileRead], problems: list[Problem]) -> tuple[list[FileRead], list[FileReport]]:
    """The same content twice counts once (by SHA-256)."""
    first: dict[str, str] = {}
    unique, reports, copies = [], [], []
    for read in reads:
        digest = read.info.sha256
        if digest and digest in first:
            reports.append(FileReport(read.info, DUPLICATE, f"与“{first[digest]}”内容完全相同，只计一次。"))
            copies.append((read.info.name, first[digest]))
            continue
        if digest:
            first[digest] = read.info.name
        unique.append(read)
    files, others = [name for name, _ in copies], [other for _, other in copies]
    problems.extend(P.make_many([Code.FILE_DUPLICATE] * len(copies), {"file": files, "other": others}))
    return unique, reports


@dataclass(frozen=True)
class Positions:
    """Where records stand: each district column's key (layout.name_key) as the run's district it names and that
    district's position in the run's list; each code's position in the rulebook's codes, any other code met
    numbered after them (in the order met); and the placing of the cells of each distinct sheet layout."""
    index: dict[str, str]
    district_at: dict[str, int]
    code_at: dict[str, int]
    placings: dict[tuple[tuple[str, ...], tuple[str, ...]], Placing] = field(default_factory=dict)

    @classmethod
    def of(cls, districts: list[str], book: Rulebook) -> Positions:
        index = {repeated_name_key(d): d for d in districts}
        position = {district: n for n, district in enumerate(districts)}
        return cls(index, {key: position[district] for key, district in index.items()},
                   {code: n for n, code in enumerate(book.indicators)})

    def placing(self, keys: list[str], codes: list[str]) -> Placing:
        """Where the cells of a sheet of these district columns and codes go (worked out once for each: the copies
        of a department's form all have the same)."""
        layout = (tuple(keys), tuple(codes))
        found = self.placings.get(layout)
        if found is None:
            found = self.placings[layout] = self._placing(keys, codes)
        return found

    def _placing(self, keys: list[str], codes: list[str]) -> Placing:
        at = np.array(list(map(self.district_at.get, keys, itertools.repeat(-1))), dtype=np.int64)
        kept = None
        if (at < 0).any():
            columns = np.flatnonzero(at >= 0)
            kept = (np.arange(0, len(keys) * len(codes), len(keys), dtype=np.int64)[:, None] + columns[None, :]).ravel()
            at = at[columns]
        code_at = np.array([self.code_at.setdefault(code, len(self.code_at)) for code in codes], dtype=np.int64)
        return Placing(kept, np.tile(at, len(codes)), np.repeat(code_at, len(at)), set(keys) == self.index.keys())


def _settle(sheet: SheetRead, positions: Positions, order: int, file_name: str) -> tuple[Placed, list[Problem]]:
    """A sheet's records matched to the run's districts; columns of other districts become problems."""
    index = positions.index
    placing = positions.placing(sheet.columns.keys, sheet.codes)
    problems = [] if placing.exact else _column_problems(sheet.columns, index, {"file": file_name, "sheet": sheet.sheet})
    for problem in sheet.problems:
        key = repeated_name_key(problem.district)
        if not problem.district or key in index:
            problems.append(problem.with_district(index.get(key, "")))
    return Placed(sheet, file_name, order, placing), problems


def _column_problems(columns: DistrictColumns, index: dict[str, str], where: dict[str, str]) -> list[Problem]:
    """A sheet's columns of districts not in the run, then the run's districts it has no column for."""
    present = set(columns.keys)
    problems = []
    if not index.keys() >= present:
        for key, header, cell, filled in zip(*columns):
            if key not in index:
                kind = Code.DISTRICT_UNKNOWN_FILLED if filled else Code.DISTRICT_UNKNOWN
                problems.append(P.make(kind, raw=header, cell=cell, **where))
    if not present >= index.keys():
        for key, district in index.items():
            if key not in present:
                problems.append(P.make(Code.DISTRICT_MISSING, district=district, **where))
    return problems


def _submitted(settled: Placed) -> bool:
    """Whether any kept cell of the sheet holds something (a sheet left blank was not submitted)."""
    blank, kept = settled.sheet.records.blank, settled.placing.kept
    return 0 in blank if kept is None else not np.frombuffer(blank, dtype=np.bool_)[kept].all()


def merge(records: Records, book: Rulebook, strict: bool,
          reports: list[FileReport]) -> tuple[pd.DataFrame, Records, list[Problem], list[Problem]]:
    """Latest non-blank record per (district, code); conflicts and ties become problems (in the order 问题清单 shows
    them), and so does 缺报. Records of equal order were submitted at the same time: when they differ, no value is
    taken."""
    filled = records.take(~records.blank)
    pairs = filled.pairs
    winner_of = latest(pairs, filled.pair_count)[pairs]  # the row of each record's winner: the last of its pair
    rows, of = _differing(filled, winner_of)
    order = filled.order
    tied = order[rows] == order[of]
    conflicts = _conflicts(filled, rows, of, tied, strict, book)
    _count_superseded(reports, filled.sheets, filled.sheet[rows[~tied]])
    disputed = tied | ~(filled.valid[of] & ~filled.valid[rows])  # a correction is not a dispute
    contested = np.zeros(filled.pair_count, dtype=bool)
    contested[pairs[rows[disputed if strict else tied]]] = True
    winners = filled.take(np.flatnonzero((winner_of == np.arange(len(filled))) & ~contested[pairs]))
    values = value_table(winners.take(winners.valid), list(book.indicators))
    return values, winners, conflicts, _blank_problems(records, filled, book)


def _differing(filled: Records, winner_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of earlier records whose value differs from the one that won, and the rows of their winners."""
    rows = np.flatnonzero(winner_of != np.arange(len(filled)))
    of = winner_of[rows]
    both_valid = filled.valid[rows] & filled.valid[of]
    differs = np.empty(len(rows), dtype=bool)
    with np.errstate(invalid="ignore"):
        differs[both_valid] = np.abs(filled.value[rows[both_valid]] - filled.value[of[both_valid]]) > 1e-9
    texts = ~both_valid
    differs[texts] = filled.raw[rows[texts]] != filled.raw[of[texts]]
    return rows[differs], of[differs]


def _count_superseded(reports: list[FileReport], sheets: Sheets, superseded: np.ndarray) -> None:
    """Each file's count of values replaced by a later file (by the file's name, as 来源 shows it), from the numbers of
    the superseded records' sheets."""
    per_sheet = np.bincount(superseded, minlength=len(sheets.file))
    counts: Counter[str] = Counter()
    for name, count in zip(sheets.file.tolist(), per_sheet.tolist()):
        counts[name] += count
    for report in reports:
        report.superseded = counts.get(report.info.name, 0)


def value_table(usable: Records, codes: list[str]) -> pd.DataFrame:
    """district × code: each (district, code)'s one usable value, NaN elsewhere (what pivot and reindex give);
    codes outside `codes` (the rulebook's) are left out."""
    table = np.full((len(usable.districts), len(codes)), np.nan)
    known = usable.code < len(codes)
    table[usable.district[known], usable.code[known]] = usable.value[known]
    return pd.DataFrame(table, index=pd.Index(usable.districts, name="区"), columns=pd.Index(codes))


def _conflicts(filled: Records, rows: np.ndarray, of: np.ndarray, tied: np.ndarray, strict: bool,
               book: Rulebook) -> list[Problem]:
    """The problem of each earlier record (at `rows`) that differs from its winner (at `of`): a tie (nothing says
    which is later), a correction of an unreadable entry, or a conflict (the later wins, or none under
    --on-conflict error). Made in the order 问题清单 shows them (problems.sort_key, stably), so that the other
    problems are put among them (problems.in_order) without sorting them all."""
    kinds = (Code.CONFLICT_STRICT if strict else Code.CONFLICT_TIE, Code.CORRECTED,
             Code.CONFLICT_STRICT if strict else Code.CONFLICT)
    which = np.where(tied, 0, np.where(filled.valid[of] & ~filled.valid[rows], 1, 2))
    shown = filled.shown_order(of, np.array([P.LEVEL_ORDER.get(kind.level, 9) for kind in kinds])[which])
    earlier, winners, which = filled.take(rows[shown]), filled.take(of[shown]), which[shown]
    codes, raws, raws_w, files_w = earlier.texts("code").tolist(), earlier.raw.tolist(), winners.raw.tolist(), winners.file.tolist()
    shortened = {raw: P.shorten(raw) for raw in {*raws, *raws_w}}.__getitem__  # each distinct entry shortened once
    return P.make_many(list(map(kinds.__getitem__, which.tolist())), {
        "file": files_w, "sheet": winners.texts("sheet").tolist(), "cell": winners.cell.tolist(),
        "district": earlier.texts("district").tolist(), "code": codes, "raw": raws_w,
        "old": list(map(shortened, raws)), "old_file": earlier.file.tolist(),
        "winner": list(map(shortened, raws_w)), "winner_file": files_w,
        "why": _refusals(book, codes, raws, np.flatnonzero(which == 1).tolist())})


def _refusals(book: Rulebook, codes: list[str], raws: list[str], corrected: list[int]) -> list[str]:
    """Why each entry at the rows `corrected` was not taken (cells.refusal); '' at every other row."""
    why = [""] * len(codes)
    for row in corrected:
        why[row] = refusal(book.indicators[codes[row]], raws[row])
    return why


def _blank_problems(records: Records, filled: Records, book: Rulebook) -> list[Problem]:
    """缺报 for required cells left blank in submitted sheets and not filled in any other file."""
    blanks = records.take(records.blank)
    pairs = blanks.pairs
    last = latest(pairs, blanks.pair_count)[pairs] == np.arange(len(blanks))  # each pair's last blank record
    required = np.zeros(len(records.codes), dtype=bool)
    required[:len(book.indicators)] = [not indicator.blank_is_zero for indicator in book.indicators.values()]
    have = np.zeros(filled.pair_count, dtype=bool)
    have[filled.pairs] = True
    missing = blanks.take(np.flatnonzero(last & required[blanks.code] & ~have[pairs]))
    codes = missing.texts("code").tolist()
    return P.make_many([Code.MISSING] * len(missing), {
        "file": missing.file.tolist(), "sheet": missing.texts("sheet").tolist(), "cell": missing.cell.tolist(),
        "district": missing.texts("district").tolist(), "code": codes,
        "expected": [book.indicators[code].what_to_type() for code in codes]})


def _unsupplied(records: Records, book: Rulebook) -> list[Problem]:
    """One problem per department that no file supplied for some district."""
    districts = records.districts
    departments = {department: n for n, department in enumerate(book.departments)}
    owner = {code: departments[indicator.department] for code, indicator in book.indicators.items()
             if not indicator.blank_is_zero and indicator.department in departments}
    rows = _owners(records.code, [owner.get(code, -1) for code in records.codes])
    known = rows >= 0
    supplied = np.zeros((len(departments), len(districts)), dtype=bool)  # department × district: some record
    supplied[rows[known], records.district[known]] = True
    out = []
    for department in book.departments:
        codes = [i.code for i in book.department_indicators(department) if not i.blank_is_zero]
        if not codes:
            continue
        lacking = list(map(districts.__getitem__, np.flatnonzero(~supplied[departments[department]]).tolist()))
        if lacking:
            problem = P.make(Code.DEPARTMENT_MISSING, sheet=department, department=department, count=len(lacking))
            out.append(problem.with_district("、".join(lacking)))
    return out


def _owners(codes: np.ndarray, owner: list[int]) -> np.ndarray:
    """Each code position's owner (`owner[position]`), -1 for a code of none."""
    return np.array(owner, dtype=np.int64)[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def _supply(winners: Records, book: Rulebook) -> pd.DataFrame:
    """department × district: the file that supplied the latest values ('' if none); the winners stand in
    submission order, so the last written into a cell is the latest."""
    districts = winners.districts
    departments = [d for d in book.departments if book.department_indicators(d)]
    row = {department: n for n, department in enumerate(departments)}
    owner = {code: row[indicator.department] for code, indicator in book.indicators.items()
             if indicator.department in row}
    rows = _owners(winners.code, [owner.get(code, -1) for code in winners.codes])
    known = rows >= 0
    files = np.full((len(departments), len(districts)), "", dtype=object)
    cells = rows[known] * len(districts) + winners.district[known]
    last = np.full(files.size, -1)
    np.maximum.at(last, cells, np.arange(len(cells)))  # the latest record of each cell
    written = np.flatnonzero(last >= 0)
    files.flat[written] = winners.sheets.file[winners.sheet[known][last[written]]]  # only their sheets' files looked up
    return pd.DataFrame(files, index=pd.Index(departments, name="部门"), columns=pd.Index(districts), dtype=object)
