"""The cell records of the submitted sheets as columns of arrays, for the merge (read.merge): each record's
district and code as positions (in the run's districts, and in the rulebook's codes followed by any other code
met), its value and flags, its text (the entry as typed, its cell), and the number of its sheet, by which its
file, sheet name and submission order are looked up. The sheets are laid out in submission order (stably), so
the records stand as sorting them by order would leave them: the merge never sorts them."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from assess_xl.read.form import Cells, SheetRead

# The columns of a frame of records (ReadResult.winners), in this order; those of text.
FRAME_COLUMNS = ("district", "code", "value", "raw", "blank", "valid", "file", "sheet", "cell", "order")
TEXT_COLUMNS = ("district", "code", "raw", "file", "sheet", "cell")
PER_RECORD = ("district", "code", "value", "blank", "valid", "raw", "cell", "sheet")  # Records' arrays of a record each


@dataclass(frozen=True)
class Placing:
    """Where the cells of a sheet go, the same for every sheet of the same district columns and codes: which cells
    are kept (None: all of them, as when every column is a district of the run), each kept cell's district and code
    as positions, and whether the columns are the run's districts exactly (none other, none missing)."""
    kept: np.ndarray | None
    districts: np.ndarray
    codes: np.ndarray
    exact: bool


@dataclass(frozen=True)
class Placed:
    """One submitted sheet matched to the run."""
    sheet: SheetRead
    file: str
    order: int  # its submission's rank: equal when nothing says which is later
    placing: Placing

    def __len__(self) -> int:
        return len(self.placing.districts)


@dataclass(frozen=True)
class Sheets:
    """What the records of one sheet share: its file, its name and its submission's rank."""
    file: np.ndarray  # object
    name: np.ndarray  # object
    order: np.ndarray  # int64


@dataclass(frozen=True)
class Records:
    """Records as parallel arrays, one entry per record; `sheet` numbers each record's sheet in `sheets`. Never
    changed once made (a selection of them shares what it can)."""
    district: np.ndarray  # int64 positions in `districts`
    code: np.ndarray  # int64 positions in `codes`
    value: np.ndarray  # float64
    blank: np.ndarray  # bool
    valid: np.ndarray  # bool
    raw: np.ndarray  # object: the entry as typed
    cell: np.ndarray  # object: e.g. H4
    sheet: np.ndarray  # int64
    sheets: Sheets
    districts: list[str]
    codes: list[str]

    def __len__(self) -> int:
        return len(self.district)

    def take(self, rows: np.ndarray) -> Records:
        """The records at `rows` (positions, or a mask: these records themselves when it keeps all), in that order."""
        if rows.dtype == np.bool_ and rows.all():
            return self
        columns = {f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name in PER_RECORD}
        return Records(**columns, sheets=self.sheets, districts=self.districts, codes=self.codes)

    @property
    def order(self) -> np.ndarray:
        return np.asarray(self.sheets.order[self.sheet])

    @property
    def file(self) -> np.ndarray:
        return np.asarray(self.sheets.file[self.sheet])

    @property
    def pairs(self) -> np.ndarray:
        """Each record's (district, code) as one number below `pair_count`, the same for the same pair."""
        return np.asarray(self.district * len(self.codes) + self.code)

    @property
    def pair_count(self) -> int:
        return len(self.districts) * len(self.codes)

    def texts(self, column: str) -> np.ndarray:
        """A column of TEXT_COLUMNS as an array of objects."""
        if column in ("district", "code"):
            return np.asarray(objects(getattr(self, f"{column}s"))[getattr(self, column)])
        if column in ("file", "sheet"):
            return np.asarray(getattr(self.sheets, "file" if column == "file" else "name")[self.sheet])
        return np.asarray(getattr(self, column))

    def shown_order(self, rows: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """The order of `rows` (positions of records) sorted stably by their records' (level, file, sheet, district,
        code), `levels` being each one's level as its order (problems.LEVEL_ORDER): how problems at these places stand
        once sorted (problems.sort_key)."""
        sheets, sheet = self.sheets, self.sheet[rows]
        return np.lexsort((np.arange(len(rows)), _ranks(self.codes)[self.code[rows]],
                           _ranks(self.districts)[self.district[rows]], _ranks(sheets.name.tolist())[sheet],
                           _ranks(sheets.file.tolist())[sheet], levels))

    def frame(self, text: Any) -> pd.DataFrame:
        """The records as a frame of FRAME_COLUMNS, its texts of dtype `text` (text_dtype). It holds the records'
        arrays themselves, not copies: the records are not used after it."""
        columns = {column: pd.array(self.texts(column), dtype=text, copy=False) if column in TEXT_COLUMNS
                   else self.order if column == "order" else getattr(self, column) for column in FRAME_COLUMNS}
        return pd.DataFrame(columns, copy=False)


def text_dtype(records: Records) -> Any:
    """The dtype of the text columns of frames of these records: what pandas infers for lists of texts ('str'), or
    for empty lists (float64) when there are none."""
    return "str" if len(records) else np.float64


def records_of(placed: list[Placed], districts: list[str], codes: list[str]) -> Records:
    """The records of `placed` sheets laid out in submission order (sheets of equal order as given)."""
    placed = sorted(placed, key=lambda one: one.order)
    cells = {"value": _packed([one.sheet.records.value for one in placed], np.float64),
             "blank": _packed([one.sheet.records.blank for one in placed], np.bool_),
             "valid": _packed([one.sheet.records.valid for one in placed], np.bool_),
             "raw": _joined([one.sheet.records.raw for one in placed]),
             "cell": _cell_names([one.sheet.records for one in placed])}
    kept = _kept(placed)
    if kept is not None:
        cells = {column: values[kept] for column, values in cells.items()}
    sheets = Sheets(objects([one.file for one in placed]), objects([one.sheet.sheet for one in placed]),
                    np.array([one.order for one in placed], dtype=np.int64))
    return Records(district=_positions([one.placing.districts for one in placed]),
                   code=_positions([one.placing.codes for one in placed]),
                   sheet=np.repeat(np.arange(len(placed), dtype=np.int64), [len(one) for one in placed]),
                   sheets=sheets, districts=districts, codes=codes, **cells)


def _packed(parts: list[Any], dtype: Any) -> np.ndarray:
    """Packed columns (Cells.value, .blank, .valid) joined into one array of `dtype`, taken without a copy each."""
    return np.concatenate([np.frombuffer(part, dtype=dtype) for part in parts]) if parts else np.zeros(0, dtype=dtype)


def _joined(parts: list[list[str]]) -> np.ndarray:
    """Lists of texts joined into one array of objects."""
    return np.fromiter(itertools.chain.from_iterable(parts), dtype=object, count=sum(map(len, parts)))


Layouts = dict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray]  # names by sheet layout (letters, rows)
Rows = dict[tuple[str, ...], dict[str, np.ndarray]]  # names by letters, then row


def _cell_names(sheets: list[Cells]) -> np.ndarray:
    """The cells of the sheets' records (Cells.cells) joined into one array of objects; those a reader sent as column
    letters and row numbers are added up pair by pair by numpy, not made into a list first, once for each distinct
    layout of letters and rows (the copies of a department's form all have the same), and that of each distinct row
    of the same letters once (the sheets of a run have the same district columns, its forms rows of the same numbers)."""
    layouts: Layouts = {}
    rows: Rows = {}
    parts = [objects(cells.cell) if cells.cell or not cells.rows else _layout_names(cells, layouts, rows)
             for cells in sheets]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=object)


def _layout_names(cells: Cells, layouts: Layouts, rows: Rows) -> np.ndarray:
    """The cells of a sheet sent as column letters and row numbers (H4, I4, … H5, …): those a sheet of the same layout
    made, else its rows' names, each made unless a sheet of the same letters made it."""
    layout = (tuple(cells.letters), tuple(cells.rows))
    if layout not in layouts:
        letters, made = objects(cells.letters), rows.setdefault(layout[0], {})
        layouts[layout] = np.concatenate([_row_names(made, letters, row) for row in cells.rows])
    return layouts[layout]


def _row_names(made: dict[str, np.ndarray], letters: np.ndarray, row: str) -> np.ndarray:
    """The cells of `row` in the columns of `letters` (H4, I4, …), made unless `made` holds them."""
    if row not in made:
        made[row] = np.add(letters, row)
    return made[row]


def _kept(placed: list[Placed]) -> np.ndarray | None:
    """The kept cells' positions among every cell of the sheets; None when every cell is kept."""
    if all(one.placing.kept is None for one in placed):
        return None
    parts, start = [], 0
    for one in placed:
        size, kept = len(one.sheet.records), one.placing.kept
        parts.append(np.arange(start, start + size) if kept is None else start + kept)
        start += size
    return np.concatenate(parts)


def _positions(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, dtype=np.int64)


def _ranks(texts: list[str]) -> np.ndarray:
    """Each text's place among the distinct texts sorted (equal texts, equal places)."""
    place = {text: n for n, text in enumerate(sorted(set(texts)))}
    return np.array([place[text] for text in texts], dtype=np.int64)


def objects(items: list[Any]) -> np.ndarray:
    """`items` as a one-dimensional array of objects (never split further, whatever the items are)."""
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def latest(pairs: np.ndarray, count: int) -> np.ndarray:
    """For each pair number below `count`, the last row that holds it (-1 for none)."""
    last = np.full(count, -1, dtype=np.int64)
    np.maximum.at(last, pairs, np.arange(len(pairs), dtype=np.int64))
    return last
