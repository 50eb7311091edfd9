"""Python's cycle collector paused around work that makes many small objects and no cycles: reading a workbook
(a sheet's scans, parsed rows and records), merging the files (readings, records, problems) and writing a
workbook (hundreds of thousands of cells and rows). Each collection meanwhile would scan the young objects again,
and a full one every object of the process, pandas' included (a quarter of writing a 100-district scorecard).
What they make is freed by reference counting all the same. Imports nothing but the standard library: the reader
children use it too."""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """The cycle collector off for the block (also usable as a decorator); afterwards as it was before."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
