"""The one place that hands untrusted workbook bytes to python-calamine, after xlsx.preflight has passed
them: each sheet measured before it becomes Python objects, so what it holds is bounded."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from assess_xl.xlsx.preflight import MAX_SHEET_CELLS


@dataclass
class SheetData:
    name: str
    visible: bool
    rows: list[list[Any]]  # calamine's cell values: str, int, float, bool, date and time types; '' when empty
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)


def parse_workbook(data: bytes) -> dict[str, SheetData]:
    """Every sheet of a workbook that passed the pre-flight; raises SheetTooLarge for a sheet that
    spans more than MAX_SHEET_CELLS, and calamine's own errors for a file it cannot read."""
    from python_calamine import CalamineWorkbook
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    visible = {m.name: str(m.visible).lower().endswith("visible") for m in workbook.sheets_metadata}
    sheets = {}
    for name in workbook.sheet_names:
        sheet = workbook.get_sheet_by_name(name)
        if sheet.height * sheet.width > MAX_SHEET_CELLS:
            raise SheetTooLarge(name, sheet.height, sheet.width)
        try:
            merged = [(a[0], a[1], b[0], b[1]) for a, b in (sheet.merged_cell_ranges or [])]
        except Exception:  # merged ranges are optional information; some formats do not carry them
            merged = []
        sheets[name] = SheetData(name, visible.get(name, True), sheet.to_python(skip_empty_area=False), merged)
    workbook.close()
    return sheets


class SheetTooLarge(Exception):
    def __init__(self, sheet: str, height: int, width: int):
        super().__init__(sheet)
        self.sheet, self.height, self.width = sheet, height, width
