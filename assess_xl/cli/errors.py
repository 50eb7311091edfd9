"""The one place where failures become what the terminal shows and the exit status. Commands return
their status (0 clean, 1 problems found) or raise; here usage errors, the library's refusals and
paths the system refuses become one Chinese message on stderr and exit 2 (1 when some mail already
went out), and only here does the command line exit."""
from __future__ import annotations

import sys
from typing import IO, Any, NoReturn

import click
from rich.markup import escape

from assess_xl.problems import Code
from assess_xl import problems as P
from assess_xl.cli.chinese import ChineseGroup, usage_message
from assess_xl.cli.output import console, errors_console

EXIT_CLEAN, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UserError(click.ClickException):
    """One clear message in Chinese (from the catalogue), and exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file: IO[Any] | None = None) -> None:
        show_error(self.message)


def stop(code: Code, /, **fields: object) -> NoReturn:
    """Refuse with the catalogue's message of `code`: exit 2, nothing done."""
    raise UserError(P.text(code, **fields))


def show_error(message: str) -> None:
    errors_console.print(f"[bold red]错误：[/]{escape(message)}")


def library_failure(error: Exception) -> tuple[str, int] | None:
    """The message and exit status of a refusal of the library (any problems.AssessError: exit 2, or 1
    when part of the work was done, as when some mail went out), None for any other error."""
    if isinstance(error, P.AssessError):
        return error.message, EXIT_PROBLEMS if error.partly_done else EXIT_USAGE
    return None


class MainGroup(ChineseGroup):
    """The top command group; its `main` is the wrapper every command runs in."""

    def main(self, *args: Any, **kwargs: Any) -> NoReturn:
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as shown:
            console.print(escape(shown.ctx.get_help()))
            sys.exit(EXIT_CLEAN)
        except click.UsageError as error:
            show_error(usage_message(error))
            sys.exit(EXIT_USAGE)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.exceptions.Abort:
            errors_console.print(P.text(Code.CANCELLED))
            sys.exit(EXIT_USAGE)
        except Exception as error:  # noqa: BLE001 - the library's refusals; anything else is re-raised
            failure = library_failure(error) or os_failure(error)
            if failure is None:
                raise
            show_error(failure[0])
            sys.exit(failure[1])
        sys.exit(code or EXIT_CLEAN)


def os_failure(error: Exception) -> tuple[str, int] | None:
    """A path the system refuses (too long a name, a device gone): said, not a traceback."""
    if not isinstance(error, OSError):
        return None
    where = f" {error.filename}" if error.filename else ""
    return P.text(Code.PATH_INACCESSIBLE, where=where, reason=P.reason(error)), EXIT_USAGE
