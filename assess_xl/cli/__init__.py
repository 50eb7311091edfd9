"""Command line: arguments, paths, terminal output, exit statuses. Nothing else lives here: every
command calls the library and only prints, prompts and exits. One module per command group; shared
options in options.py, terminal output in output.py, click in Chinese in chinese.py, exit statuses in
errors.py.

The top group knows its commands by name and imports a command's module only when that command runs
(or when the help lists them all): `collect` does not load mail, IMAP, sealing or the console."""
from __future__ import annotations

import importlib

import click

from assess_xl.cli.errors import MainGroup

COMMANDS = {  # name → (module in assess_xl.cli, the click command in it)
    "rules": ("rules", "rules"),
    "forms": ("forms", "forms"),
    "returns": ("forms", "returns_command"),
    "collect": ("collect", "collect"),
    "pdf": ("collect", "pdf_command"),
    "seal": ("seal", "seal_command"),
    "verify": ("seal", "verify_command"),
    "status": ("status", "status"),
    "fetch": ("mail", "fetch"),
    "send": ("mail", "send"),
    "adjustments-template": ("templates", "adjustments_template"),
    "contacts-template": ("templates", "contacts_template"),
    "console": ("console", "console_command"),
    "demo": ("demo", "demo"),
}


class CommandLine(MainGroup):
    """The top group, whose commands are imported when asked for by name."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, name = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(f"assess_xl.cli.{module}"), name)
        return command


@click.group(cls=CommandLine, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="assess-xl", message="assess-xl %(version)s", help="显示版本并退出。")
def main():
    """目标责任制考核：生成填报表、回收汇总、按评分细则计分并出具考核结果表。"""
