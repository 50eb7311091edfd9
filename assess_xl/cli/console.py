"""`console`: the browser console on a year's folder."""
from __future__ import annotations

import click

from assess_xl import year as year_module
from assess_xl.cli.chinese import ChineseCommand
from assess_xl.cli.errors import EXIT_CLEAN


@click.command("console", cls=ChineseCommand)
@click.argument("folder", required=False, type=click.Path(file_okay=False), metavar="[年度文件夹]")
@click.option("--port", type=click.IntRange(0, 65535), default=None, metavar="端口",
              help="监听的端口（默认8765，被占用时自动选择）。只在本机 127.0.0.1 上提供。")
@click.option("--no-browser", is_flag=True, help="不打开浏览器：第一行打印带凭据的网址，一直运行到按 Ctrl-C。")
def console_command(folder, port, no_browser):
    """打开考核控制台：在浏览器中完成全年的工作（设置、填报表、收件、进度、问题、调整、结果、发布、细则）。
    年度文件夹不存在或是空文件夹时新建；不写时在浏览器中新建或打开最近的年度文件夹。"""
    from assess_xl.console import server
    year = year_module.open_or_create(folder) if folder else None
    server.serve(year, port, not no_browser, lambda line: click.echo(line))
    return EXIT_CLEAN
