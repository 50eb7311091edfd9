"""Mail: `fetch` (IMAP into .eml files) and `send` (forms, reminders, returns as drafts or through SMTP)."""
from __future__ import annotations

import os
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from assess_xl import year as year_module
from assess_xl.cli.chinese import ChineseCommand, ChineseGroup
from assess_xl.cli.errors import EXIT_CLEAN, EXIT_PROBLEMS
from assess_xl.cli.options import RULES_OPTION, load_contacts, load_rulebook, read_or_stop
from assess_xl.cli.output import console, errors_console, print_fetched
from assess_xl.pipeline import CollectOptions
from assess_xl.publish import delivery, mailing, outbox
from assess_xl.read import fetch as fetch_module
from assess_xl.read import imap


@click.command(cls=ChineseCommand)
@click.option("--host", required=True, metavar="服务器", help="IMAP服务器，如 imap.example.cn。")
@click.option("--port", type=int, default=None, metavar="端口", help="端口（默认：SSL 993，其他 143）。")
@click.option("--user", required=True, metavar="用户名",
              help="邮箱用户名；密码取环境变量 ASSESS_XL_IMAP_PASSWORD，没有时提示输入，不会写入任何文件。")
@click.option("--folder", default="INBOX", metavar="文件夹", help="邮箱中的文件夹（默认 INBOX）。")
@click.option("--since", default=None, metavar="日期", help="只收取该日期以后的邮件，如 2008-01-01。")
@click.option("--security", type=click.Choice(["ssl", "starttls", "plain"]), default="ssl",
              help="连接方式：ssl（默认，IMAPS）、starttls 或 plain（不加密，只用于本机测试）。")
@click.option("--mark-seen", is_flag=True, help="把收取的邮件标为已读（默认不改动服务器上的任何邮件和标记）。")
@click.option("--cafile", default=None, type=click.Path(dir_okay=False, exists=True), metavar="证书",
              help="信任的CA证书（PEM），用于使用单位自签证书的邮件服务器；默认只信任系统证书。")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=imap.DEFAULT_TIMEOUT, show_default=True,
              metavar="秒", help="服务器每次应答最多等待的秒数（大邮件按每秒100 KB另加时间）；超时的邮件下次再收。")
@click.option("--contacts", "contacts_path", default=None, type=click.Path(dir_okay=False, exists=True),
              metavar="通讯录", help="通讯录：保存的邮件文件名写发件部门，而不是发件地址。")
@RULES_OPTION
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), metavar="文件夹",
              help="邮件（.eml）保存的文件夹；collect 和 status 可以直接读取它。")
def fetch(host, port, user, folder, since, security, mark_seen, cafile, timeout, contacts_path, rules_path, out_dir):
    """收取邮件：从IMAP邮箱下载所有带工作簿（或其压缩包）附件的邮件，每封存为一个 .eml；再次运行只下载新邮件。"""
    since_day = fetch_module.since_day(since)
    departments = sender_departments(contacts_path, rules_path) if contacts_path else {}
    record = fetch_module.FetchRecord(Path(out_dir))
    password = os.environ.get("ASSESS_XL_IMAP_PASSWORD") or click.prompt("邮箱密码", hide_input=True)
    server = imap.Server(host, port or (993 if security == "ssl" else 143), security, user, password, cafile, timeout)
    with Progress(TextColumn("收取邮件"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as bar:
        task = bar.add_task("", total=None)
        fetched = fetch_module.fetch(server, folder, since_day, record, mark_seen, departments,
                                     lambda n, total: bar.update(task, completed=n, total=total))
    return EXIT_CLEAN if print_fetched(fetched, Path(out_dir)) else EXIT_PROBLEMS


def sender_departments(contacts_path: str, rules_path: str | None) -> dict[str, str]:
    """address (lower case) → department, for the names of saved messages."""
    return year_module.departments_by_address(load_contacts(contacts_path, load_rulebook(rules_path)))


def send_options(function):
    for option in reversed([
        click.option("--contacts", "contacts_path", required=True, type=click.Path(dir_okay=False, exists=True),
                     metavar="通讯录", help="通讯录（.xlsx 或 .csv：部门、联系人、邮箱；一个部门可有多个邮箱，用分号隔开）。"),
        click.option("--from", "sender", required=True, metavar="发件人",
                     help="发件人，如 zhc@hbj.gov.cn 或 \"市环保局综合处 <zhc@hbj.gov.cn>\"（名称会显示在收件人的邮件程序中）。"),
        click.option("--deadline", default="", metavar="期限", help="写在邮件中的截止日期，如“1月15日”。"),
        click.option("--outbox", "outbox_dir", default="发件箱", type=click.Path(file_okay=False), metavar="文件夹",
                     help="邮件草稿（.eml）和发送记录写入的文件夹（默认“发件箱”）。不用 --smtp 时只写草稿，可用任何邮件程序打开后发送。"),
        click.option("--smtp", default=None, metavar="服务器[:端口]", help="直接通过该SMTP服务器发送。"),
        click.option("--user", default=None, metavar="用户名",
                     help="SMTP登录用户名；密码取环境变量 ASSESS_XL_SMTP_PASSWORD，没有时提示输入，不会写入任何文件。"),
        click.option("--ssl", "security", flag_value="ssl", help="SMTP使用SSL（通常是465端口）。"),
        click.option("--starttls", "security", flag_value="starttls", help="SMTP使用STARTTLS（通常是587端口）。"),
        RULES_OPTION,
    ]):
        function = option(function)
    return function


@click.group(cls=ChineseGroup, no_args_is_help=True)
def send():
    """发送邮件：填报表、催报、退回修改（默认写成草稿，也可直接通过SMTP发送）。"""




@send.command("forms")
@click.option("--forms", "forms_dir", required=True, type=click.Path(file_okay=False, exists=True), metavar="文件夹",
              help="forms 命令生成填报表的文件夹（每个部门发送它自己的一份）。")
@send_options
def send_forms(forms_dir, contacts_path, sender, deadline, outbox_dir, smtp, user, security, rules_path):
    """给每个部门发送它自己的填报表。"""
    book = load_rulebook(rules_path)
    from_ = outbox.sender(sender)
    contacts = load_contacts(contacts_path, book)
    return deliver(mailing.forms_mailing(book, contacts, Path(forms_dir), from_, deadline),
                   outbox_dir, smtp, user, security, from_)


@send.command("remind")
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="文件或文件夹...")
@send_options
@click.option("--round", "round_name", default="", metavar="轮次",
              help="催报的轮次（如“第二次”）。默认按 --deadline，没有时按当天日期：同一轮重新运行不会重发，新的一轮会再发。")
def send_remind(paths, contacts_path, sender, deadline, outbox_dir, smtp, user, security, rules_path, round_name):
    """催报：给还欠填报或需要改正的部门发邮件，逐区列出未填写的指标和每个需改正单元格的问题。"""
    book = load_rulebook(rules_path)
    from_ = outbox.sender(sender)
    contacts = load_contacts(contacts_path, book)
    read = read_or_stop(paths, book, CollectOptions())
    this_round = mailing.round_of(round_name, deadline)
    console.print(f"催报轮次：{escape(this_round)}（同一轮重新运行不会重发；要再催一次，请给出新的 --deadline 或 --round）")
    return deliver(mailing.reminder_mailing(book, contacts, read, from_, deadline, this_round),
                   outbox_dir, smtp, user, security, from_)


@send.command("returns")
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="文件或文件夹...")
@send_options
def send_returns(paths, contacts_path, sender, deadline, outbox_dir, smtp, user, security, rules_path):
    """给有错误或缺报的部门发送退回修改的填报表；没有交回的部门，说明尚未收到并再次附上填报表。"""
    book = load_rulebook(rules_path)
    from_ = outbox.sender(sender)
    contacts = load_contacts(contacts_path, book)
    read = read_or_stop(paths, book, CollectOptions())
    return deliver(mailing.returns_mailing(book, contacts, read, from_, deadline), outbox_dir, smtp, user, security, from_)


def deliver(mail: mailing.Mailing, outbox_dir: str, smtp: str | None, user: str | None, security: str | None,
            sender: outbox.Mailbox) -> int:
    """Drafts into the outbox, or through SMTP (delivery.deliver: the send log opened before the password
    is asked and before anything is sent; what was sent is not sent again). Exit status 1 when some
    department got nothing (no address, no form) or some recipient failed."""
    folder = Path(outbox_dir)
    server = (lambda: delivery.Server.parse(smtp, security, user, smtp_password(user))) if smtp else None
    done = delivery.deliver(mail.messages, folder, sender.address, server)
    for line in delivery.summary(done, folder):
        console.print(escape(line))
    if done.outcome is not None:
        for line in delivery.failure_lines(done.outcome):
            errors_console.print(f"[red]{escape(line)}[/]")
        for note in done.outcome.notes:
            errors_console.print(escape(note))
    for line in mail.unsent:
        errors_console.print(f"[red]未发送：[/]{escape(line)}")
    return EXIT_PROBLEMS if mail.unsent or done.failed else EXIT_CLEAN


def smtp_password(user: str | None) -> str | None:
    if not user:
        return None
    return os.environ.get("ASSESS_XL_SMTP_PASSWORD") or click.prompt("SMTP密码", hide_input=True)
