"""Tests only: Python imports this at start-up when its folder is on PYTHONPATH. It moves the clock of this
process, and of every child it starts, by ASSESS_XL_TEST_CLOCK_DAYS days, as if the machine's date were
later (faketime is not installed here): datetime.now/utcnow/today, date.today and time.time.

datetime's types are built in and immutable, and replacing them breaks C extensions (pandas checks their
size), so the methods are replaced in the types' own dictionaries (CPython only), then the type caches reset."""
import ctypes
import datetime as _datetime
import gc
import os
import time as _time

_SHIFT = _datetime.timedelta(days=float(os.environ.get("ASSESS_XL_TEST_CLOCK_DAYS", "0")))
_real_now, _real_utcnow, _real_time = _datetime.datetime.now, _datetime.datetime.utcnow, _time.time


def _patch(kind: type, name: str, function) -> None:
    gc.get_referents(kind.__dict__)[0][name] = classmethod(function)
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(kind))


if _SHIFT:
    _patch(_datetime.datetime, "now", lambda cls, tz=None: _real_now(tz) + _SHIFT)
    _patch(_datetime.datetime, "utcnow", lambda cls: _real_utcnow() + _SHIFT)
    _patch(_datetime.datetime, "today", lambda cls: _real_now() + _SHIFT)
    _patch(_datetime.date, "today", lambda cls: (_real_now() + _SHIFT).date())
    _time.time = lambda: _real_time() + _SHIFT.total_seconds()
