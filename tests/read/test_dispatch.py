"""Handing gathered files to the reader children: a reading taken ahead leaves the caller a core until the
caller asks for its result."""
from assess_xl.read.dispatch import Reading
from assess_xl.rules import load as rulebook


def test_a_reading_ahead_says_its_caller_is_busy_until_the_result_is_asked_for(tmp_path):
    reading = Reading([tmp_path], rulebook.load(), ahead=True)
    assert reading.caller_busy.is_set()
    assert reading.result() == ([], [])
    assert not reading.caller_busy.is_set()
    assert not Reading([tmp_path], rulebook.load()).caller_busy.is_set()
