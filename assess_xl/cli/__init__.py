"""Command line: arguments, paths, terminal output, exit statuses. Nothing else lives here: every
command calls the library and only prints, prompts and exits. One module per command group; shared
options in options.py, terminal output in output.py, click in Chinese in chinese.py, exit statuses in
errors.py."""
from __future__ import annotations

import click

from assess_xl.cli import collect, console, demo, forms, mail, rules, seal, status, templates
from assess_xl.cli.errors import MainGroup


@click.group(cls=MainGroup, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="assess-xl", message="assess-xl %(version)s", help="显示版本并退出。")
def main():
    """目标责任制考核：生成填报表、回收汇总、按评分细则计分并出具考核结果表。"""


for command in (rules.rules, forms.forms, forms.returns_command, collect.collect, collect.pdf_command, seal.seal_command,
                seal.verify_command, status.status,
                mail.fetch, mail.send, templates.adjustments_template, templates.contacts_template,
                console.console_command, demo.demo):
    main.add_command(command)
