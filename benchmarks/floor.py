"""The floor of `assess-xl collect`, as one process: import pandas, read every input workbook with
python-calamine, and write the cells of the scorecard the real run produced (given as a pickle of
{sheet: rows}) with plain xlsxwriter, unformatted, in memory.

    python3 benchmarks/floor.py CELLS.pickle INPUT...
    python3 benchmarks/floor.py --read INPUT...     # only python-calamine over the inputs (no pandas)"""
from __future__ import annotations

import io
import pickle
import sys


def main() -> None:
    if sys.argv[1] == "--read":
        read_cells(sys.argv[2:])
        return
    import pandas  # noqa: F401  the floor includes what the tool cannot avoid importing
    read_cells(sys.argv[2:])
    with open(sys.argv[1], "rb") as source:
        write_cells(pickle.load(source))


def read_cells(paths: list[str]) -> None:
    """Every cell of every sheet of the inputs, decoded by python-calamine."""
    from python_calamine import CalamineWorkbook
    for path in paths:
        workbook = CalamineWorkbook.from_path(path)
        for name in workbook.sheet_names:
            workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
        workbook.close()


def write_cells(sheets: dict) -> bytes:
    """{sheet: rows} through plain xlsxwriter, in memory, unformatted: the floor of writing a scorecard."""
    import xlsxwriter
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for rows in sheets.values():
        sheet = book.add_worksheet()
        for r, row in enumerate(rows):
            sheet.write_row(r, 0, row)
    book.close()
    return buffer.getvalue()


if __name__ == "__main__":
    main()
