"""The floor of `assess-xl collect`, as one process: import pandas, read every input workbook with
python-calamine, and write the cells of the scorecard the real run produced (given as a pickle of
{sheet: rows}) with plain xlsxwriter, unformatted, in memory.

    python3 benchmarks/floor.py CELLS.pickle INPUT..."""
from __future__ import annotations

import io
import pickle
import sys


def main() -> None:
    import pandas  # noqa: F401  the floor includes what the tool cannot avoid importing
    from python_calamine import CalamineWorkbook
    for path in sys.argv[2:]:
        workbook = CalamineWorkbook.from_path(path)
        for name in workbook.sheet_names:
            workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
        workbook.close()
    with open(sys.argv[1], "rb") as source:
        write_cells(pickle.load(source))


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
