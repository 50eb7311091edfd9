"""The shared-strings part (xl/sharedStrings.xml) as xlsxwriter writes it, each plain text written at once:
xlsxwriter runs three regular-expression passes and builds an attribute list for every text (a scorecard of
100 districts holds 2,700 texts, a fifth of saving it after the sheets). A text is plain when none of those
passes would change it or add an attribute: no control character, no `_xHHHH_` sequence, no noncharacter,
no `&`, `<` or `>`, no whitespace at either end. Any other text, and a rich string, goes through xlsxwriter."""
from __future__ import annotations

import re

from xlsxwriter.sharedstrings import SharedStrings

_ESCAPED = re.compile(r"[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]")  # characters xlsxwriter escapes or replaces


def plain(text: str) -> bool:
    """Whether xlsxwriter writes `text` as it is, in a <t> without attributes: nothing it escapes, no `_x`
    (with which the sequences it escapes again begin), no whitespace first or last (where it adds xml:space;
    its `^\\s|\\s$` is str.isspace of the first or last character, a final newline being whitespace itself)."""
    return _ESCAPED.search(text) is None and "_x" not in text and not text[:1].isspace() and not text[-1:].isspace()


class HouseSharedStrings(SharedStrings):  # type: ignore[misc]  # xlsxwriter ships no type hints
    """xlsxwriter's shared-strings writer, plain texts written without its per-text passes."""

    def _write_sst_strings(self) -> None:
        written: list[str] = []
        for text in self.string_table.string_array:
            if plain(text):
                written.append(f"<si><t>{text}</t></si>")
                continue
            self.fh.write("".join(written))
            written.clear()
            self._write_si(text)
        self.fh.write("".join(written))
