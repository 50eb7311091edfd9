"""The `assess-xl` console script. Before the command line's imports (pandas, click, rich: about half a
second), a command that reads returned workbooks starts the reader's fork server, which loads the reader on
another core meanwhile. Everything else is in cli.py."""
from __future__ import annotations

import sys

READING_COMMANDS = frozenset({"collect", "status", "returns"})


def command_name(arguments: list[str]) -> str | None:
    """The command word: the first argument that is not an option (the group's options take no value)."""
    return next((argument for argument in arguments if not argument.startswith("-")), None)


def main() -> None:
    if command_name(sys.argv[1:]) in READING_COMMANDS:
        from assess_xl.xlsx import sandbox
        sandbox.start_early()
    from assess_xl.cli import main as command_line
    command_line()
