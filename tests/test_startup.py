"""What a command loads before it works: the command line imports only the invoked command's module and
what that command needs, not every other command's (mail, IMAP, sealing, the console). Through the
installed console script, every import of its process logged (tests/importlog.py)."""
import click

from helpers import returned_forms
from importlog import imports_by_process, main_pid, run_logged

from assess_xl.cli import COMMANDS, main
from assess_xl.rules import load as rulebook

# Modules that only other commands, or collect's optional outputs (--notices, --pdf, --seal, --returns), use.
NOT_FOR_A_PLAIN_COLLECT = {
    "assess_xl.cli.mail", "assess_xl.cli.seal", "assess_xl.cli.console", "assess_xl.cli.rules", "assess_xl.cli.demo",
    "assess_xl.cli.templates", "assess_xl.cli.status", "assess_xl.yearwork", "assess_xl.seal", "assess_xl.console",
    "assess_xl.read.imap", "assess_xl.read.fetch", "assess_xl.publish.delivery", "assess_xl.publish.documents",
    "assess_xl.publish.returns", "assess_xl.publish.outbox", "assess_xl.score.replay", "smtplib", "imaplib",
    "email.mime.multipart", "rich.progress",
}


def test_collect_loads_only_what_collect_uses(tmp_path):
    _, inbox = returned_forms(rulebook.load(), tmp_path, {"监察室": {"14-1": {"甲区": "3.5", "乙区": "4"}}})
    done, events = run_logged(tmp_path, "collect", inbox, "-o", tmp_path / "结果.xlsx")
    assert done.returncode in (0, 1), done.stderr
    assert (tmp_path / "结果.xlsx").is_file()
    imported = imports_by_process(events)[main_pid(events)]
    assert {"assess_xl.cli.collect", "assess_xl.pipeline", "pandas", "click", "rich"} <= imported
    assert sorted(NOT_FOR_A_PLAIN_COLLECT & imported) == []


def test_every_command_is_found_by_its_name():
    ctx = click.Context(main)
    assert main.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
    assert main.get_command(ctx, "no-such-command") is None


def test_collect_reads_the_returns_before_it_imports_pandas(tmp_path):
    """The children read the returns while the command's own process imports pandas: held at the start of
    that import until another process has opened a return, the run still reads, scores and writes, and the
    log shows reader children opening every return before pandas is imported. Before the reading was started ahead, the hold ran out first and pandas came before."""
    _, inbox = returned_forms(rulebook.load(), tmp_path, {"监察室": {"14-1": {"甲区": "3.5", "乙区": "4"}},
                                                          "办公室": {"1-1": {"甲区": "是", "乙区": "否"}}})
    done, events = run_logged(tmp_path, "collect", inbox, "-o", tmp_path / "结果.xlsx",
                              opened_under=inbox, hold="pandas")
    assert done.returncode in (0, 1), done.stderr
    assert "文件 2 个（已读取 2）" in done.stdout and (tmp_path / "结果.xlsx").is_file()
    main = main_pid(events)
    pandas_at = events.index(["import", str(main), "pandas"])
    before_pandas = {tuple(event) for event in events[:pandas_at]}
    opened_before = {what for kind, pid, what in before_pandas if kind == "open" and int(pid) != main}
    assert opened_before == {str(path) for path in inbox.iterdir()}


def test_collect_changes_its_environment_only_while_it_has_one_thread(tmp_path):
    """A library in C reading the environment on one thread (getenv: libfontconfig, finding the printing fonts
    while pandas is imported, reads it some 200 times) while another thread changes it (glibc's setenv may move
    the environment's array and free the old one under that getenv) can crash the process, rarely. Every change
    to collect's environment is made while it has one thread. Before launch.py set OPENBLAS_MAIN_FREE, numpy's
    import set it and unset it with the reading, the terminal's and the fonts' threads running."""
    _, inbox = returned_forms(rulebook.load(), tmp_path, {"办公室": {"1-1": {"甲区": "是", "乙区": "否"}}})
    done, events = run_logged(tmp_path, "collect", inbox, "-o", tmp_path / "结果.xlsx")
    assert done.returncode in (0, 1), done.stderr
    assert (tmp_path / "结果.xlsx").is_file()
    main = main_pid(events)
    changes = [what.split(" ", 1) for kind, pid, what in events if kind == "environ" and int(pid) == main]
    assert [name for threads, name in changes if threads != "1"] == [], changes
