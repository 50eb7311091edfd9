"""The one place where failures become what the terminal shows and the exit status: usage errors,
library errors and refused paths are one Chinese line on stderr and exit 2; nothing else calls sys.exit."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from assess_xl.publish import files as files_module
from assess_xl import problems as problems_module
from assess_xl.cli.chinese import ChineseGroup, usage_message
from assess_xl.cli.output import console, errors_console


EXIT_CLEAN, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UserError(click.ClickException):
    """One clear line (or a few) in Chinese, and exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None):
        errors_console.print(f"[bold red]错误：[/]{escape(self.message)}")


def refuse_if_open(target: Path) -> None:
    try:
        files_module.refuse_if_open(target)
    except files_module.WriteError as exc:
        raise UserError(str(exc)) from None


def write_files(files: list[tuple[Path, bytes]]) -> None:
    """Atomic writing (files.write_files); a failure is one Chinese line and exit 2."""
    try:
        files_module.write_files(files)
    except files_module.WriteError as exc:
        raise UserError(str(exc)) from None


def write_atomically(target: Path, content: bytes) -> None:
    write_files([(target, content)])


class MainGroup(ChineseGroup):
    """The top command group: usage errors, library errors and refused paths are one Chinese line and exit 2."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as shown:
            console.print(escape(shown.ctx.get_help()))
            sys.exit(EXIT_CLEAN)
        except click.UsageError as error:
            errors_console.print(f"[bold red]错误：[/]{escape(usage_message(error))}")
            sys.exit(EXIT_USAGE)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.exceptions.Abort:
            errors_console.print("已取消。")
            sys.exit(EXIT_USAGE)
        except OSError as error:  # a path the system refuses (too long a name, a device gone): said, not a traceback
            where = f" {error.filename}" if error.filename else ""
            errors_console.print(f"[bold red]错误：[/]无法访问{escape(str(where))}（{problems_module.reason(error)}）。"
                                 "请检查路径后重试。")
            sys.exit(EXIT_USAGE)
        sys.exit(code or 0)
