import re
import unicodedata

import click
from click.testing import CliRunner

from assess_xl.cli import main
from helpers import assess_xl


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_rules_check_embedded():
    result = run("rules", "check")
    assert result.exit_code == 0
    assert "类别 18 个，目标 38 个，填报指标 87 个" in result.output
    assert "最高可得 108 分" in result.output
    for text in ("目标2分值6分", "目标5分值8分", "目标30原文标注(3)分"):
        assert text in result.output


def test_rules_check_bad_rulebook(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("year: 2008\ntitle: x\ndepartments: [甲]\ncategories: []\ntargets:\n- {number: 1, category: 5}\n",
                    encoding="utf-8")
    result = run("rules", "check", str(path))
    assert result.exit_code == 2
    assert "目标1：所属类别5不存在" in result.output
    assert "Traceback" not in result.output


def test_rules_check_missing_file(tmp_path):
    result = run("rules", "check", str(tmp_path / "none.yaml"))
    assert result.exit_code == 2 and "找不到评分细则文件" in result.output


import os

import openpyxl
import pytest

from assess_xl import cli
from assess_xl import files
from assess_xl.year import parse_districts
from assess_xl.demo import fill_workbook
from helpers import set_saved_time, write_forms


@pytest.mark.parametrize("command", [[], ["rules"], ["rules", "check"], ["forms"], ["collect"], ["status"], ["demo"],
                                     ["send", "forms"], ["rules", "replay"], ["returns"], ["pdf"]])
def test_every_command_has_chinese_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert any("\u4e00" <= ch <= "\u9fff" for ch in result.output.split("Options")[0])
    ctx_command = cli.main
    for name in command:
        ctx_command = ctx_command.get_command(click.Context(ctx_command), name)
    for param in ctx_command.params:
        if isinstance(param, click.Option) and param.name not in ("help", "version"):
            assert param.help and any("\u4e00" <= ch <= "\u9fff" for ch in param.help), param.name


def test_forms_command(tmp_path):
    districts = tmp_path / "区.txt"
    districts.write_text("\ufeff玄武区\n秦淮区\n\n", encoding="utf-8")
    result = run("forms", "--districts", str(districts), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(names) == 15 and "2007年度目标考核填报表-全部部门.xlsx" in names
    ws = openpyxl.load_workbook(tmp_path / "out" / "2007年度目标考核填报表-辐射站.xlsx")["辐射站"]
    assert [ws["H3"].value, ws["I3"].value] == ["玄武区", "秦淮区"]


@pytest.mark.parametrize("spec,message", [("玄武区,玄武区", "区名“玄武区”重复"),
                                          ("玄武区,编号", "与本工具使用的表头或工作表名“编号”相同"),
                                          ("Ａ区,A区", "区名“A区”与“Ａ区”只差全角/半角"),
                                          ("玄武区,汇总", "工作表名“汇总”相同"), ("甲区,提供文件", "“提供文件”相同")])
def test_forms_bad_districts(tmp_path, spec, message):
    result = run("forms", "--districts", spec, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_forms_comma_list_accepts_chinese_commas(tmp_path):
    assert parse_districts("玄武区，秦淮区、建邺区") == ["玄武区", "秦淮区", "建邺区"]
    assert parse_districts("玄武区,,秦淮区") == ["玄武区", "秦淮区"]


@pytest.mark.parametrize("spec", ["玄武区 秦淮区", "玄武区\u3000秦淮区", " 玄武区 , 秦淮区 "])
def test_district_list_with_spaces_is_split(spec):
    assert parse_districts(spec) == ["玄武区", "秦淮区"]


def test_names_with_spaces_survive_a_comma_list():
    assert parse_districts("高新区（虎丘区）,相城区 (北)") == ["高新区（虎丘区）", "相城区 (北)"]


def test_collect_missing_input(tmp_path):
    result = run("collect", str(tmp_path / "nothing"), "-o", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 2 and "没有读到任何本细则的填报表" in result.output


def test_collect_refuses_report_over_input(tmp_path, book):
    from helpers import write_forms
    blank = write_forms(book, ["甲区"], tmp_path / "in")
    result = run("collect", str(tmp_path / "in"), "-o", str(blank["办公室"]))
    assert result.exit_code == 2 and "是交回的填报表之一" in result.output


def test_bad_option_is_exit_2(tmp_path):
    result = run("collect", str(tmp_path), "-o", "r.xlsx", "--on-conflict", "maybe")
    assert result.exit_code == 2


def test_demo_and_status(tmp_path):
    out = tmp_path / "demo"
    result = run("demo", "-o", str(out))
    assert result.exit_code == 0
    assert "考核排名" in result.output and "雨花台区" in result.output
    report = out / "3-考核结果.xlsx"
    wb = openpyxl.load_workbook(report)
    assert wb.sheetnames[0] == "汇总" and wb["汇总"].cell(5, 1).value
    problems = [[c.value for c in row] for row in wb["问题清单"].iter_rows(min_row=2)]
    assert any(r[5] == "16-1" and "四十篇" in r[6] for r in problems)
    status = run("status", str(out / "2-交回的填报表"), "-o", str(tmp_path / "填报情况.xlsx"))
    assert status.exit_code == 1  # 监察室 left 14-1 blank for one district
    assert "待催报" in status.output and "监察室" in status.output
    sheet = openpyxl.load_workbook(tmp_path / "填报情况.xlsx")["填报情况"]
    assert sheet["A1"].value == "部门" and sheet["A2"].value == "办公室" and sheet["B2"].value == "已填齐"


def test_interrupted_write_keeps_old_report(tmp_path, monkeypatch):
    target = tmp_path / "考核结果.xlsx"
    target.write_bytes(b"old report")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        files.write_file(target, b"new report")
    assert target.read_bytes() == b"old report"
    assert [p.name for p in tmp_path.iterdir()] == ["考核结果.xlsx"]  # no temporary left behind


def test_locked_report_is_a_clear_error(tmp_path, monkeypatch):
    target = tmp_path / "r.xlsx"
    target.write_bytes(b"old")

    def locked(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(os, "replace", locked)
    with pytest.raises(files.WriteError, match="文件被占用"):
        files.write_file(target, b"new")
    assert target.read_bytes() == b"old"


def test_console_script_entry_point(tmp_path):
    """The script pip installed next to the interpreter running the tests (not whatever is on PATH)."""
    import subprocess
    import sys
    from pathlib import Path
    exe = Path(sys.executable).parent / "assess-xl"
    assert exe.exists(), "the console script is installed by pip install"
    done = subprocess.run([exe, "rules", "check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "填报指标 87 个" in done.stdout


@pytest.mark.parametrize("args,message", [
    (["forms", "-o", "x"], "缺少选项 --districts"),
    (["collect", "in", "-o", "r.xlsx", "--on-conflict", "maybe"], "选项 --on-conflict 的值无效，可选：latest、error"),
    (["collect", "in", "--bogus"], "没有选项 --bogus"),
    (["colect"], "没有这个命令（colect）。可用命令：adjustments-template、collect、console、contacts-template、demo、"
                 "fetch、forms、pdf、returns、rules、seal、send、status、verify。"),
    (["collect"], "缺少参数"),
    (["collect", "in", "-o", "r.xlsx", "--contacts", "没有.csv"], "--contacts 指定的文件“没有.csv”不存在。"),
    (["collect", "in", "-o", "r.xlsx", "--previous", "."], "--previous 要的是文件，“.”是一个文件夹。请给出文件。"),
    (["fetch", "-o", "x", "--timeout", "半分钟"], "--timeout 的值“半分钟”不是数字。请填写一个数字。"),
    (["fetch", "-o", "x", "--timeout", "0"], "--timeout 的值 0.0 超出允许范围：应不小于 0.1。"),
    (["console", "--port", "70000"], "--port 的值 70000 超出允许范围：应在 0 到 65535 之间。"),
    (["rules", "check", "."], "细则文件 要的是文件，“.”是一个文件夹。请给出文件。"),
])
def test_usage_errors_are_one_chinese_line(args, message):
    """Said in Chinese, click's own words too (a missing file, a word where a number goes, a number out of
    range): no English sentence reaches the coordinator."""
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Usage:" not in result.output and "Traceback" not in result.output
    assert not re.search(r"[A-Za-z]{3,} [a-z]{2,} [a-z]{2,}", result.output), result.output  # no English sentence


# ---- issue 9: a real year, run as a coordinator would ---------------------------------------

def _demo_inbox(tmp_path):
    result = run("demo", "-o", str(tmp_path / "demo"))
    assert result.exit_code == 0
    return tmp_path / "demo" / "2-交回的填报表"


def test_no_arguments_prints_the_help():
    result = run()
    assert result.exit_code == 0 and result.output.startswith("用法：") and "collect" in result.output


ALL_COMMANDS = [[], ["rules"], ["forms"], ["collect"], ["status"], ["demo"], ["rules", "check"], ["rules", "init"],
                ["rules", "export"], ["rules", "import"], ["rules", "diff"], ["rules", "replay"], ["returns"], ["pdf"],
                ["adjustments-template"], ["contacts-template"], ["send"], ["send", "forms"], ["send", "remind"],
                ["send", "returns"], ["seal"], ["verify"]]


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_help_is_wholly_chinese(command):
    output = run(*command, "--help").output
    assert output.startswith("用法：") and "选项：" in output
    for english in ("Usage", "Options", "Commands", "Show this message", "Show the version", "[required]",
                    "default:", " TEXT", " FILE", "PATHS"):
        assert english not in output, english


def test_collect_summary_groups_problems_and_counts_add_up(tmp_path):
    inbox = _demo_inbox(tmp_path)
    (inbox / "note.eml").write_text("From: a@b\n\nhello", encoding="utf-8")
    result = run("collect", str(inbox), str(tmp_path / "none.xlsx"), "-o", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 1
    out = result.output
    match = __import__("re").search(r"问题 (\d+) 条 = 错误 (\d+) \+ 警告 (\d+) \+ 提示 (\d+)", out)
    total, errors, warnings, infos = map(int, match.groups())
    assert total == errors + warnings + infos and warnings >= 1 and infos >= 1
    assert "各部门问题" in out and "需改正" in out and "四十篇" in out  # a typed mistake is shown
    assert "note.eml" in out and "没有Excel工作簿附件" in out and "改为.xlsx" not in out.split("note.eml")[1].splitlines()[0]
    assert "none.xlsx" in out and "文件不存在" in out
    assert "问题清单" in out


def test_output_suffix(tmp_path):
    inbox = _demo_inbox(tmp_path)
    assert run("collect", str(inbox), "-o", str(tmp_path / "结果")).exit_code == 1
    assert (tmp_path / "结果.xlsx").exists() and not (tmp_path / "结果").exists()
    refused = run("collect", str(inbox), "-o", str(tmp_path / "结果.xls"))
    assert refused.exit_code == 2 and "只能保存为.xlsx" in refused.output and not (tmp_path / "结果.xls").exists()


def test_outputs_have_normal_permissions(tmp_path):
    inbox = _demo_inbox(tmp_path)
    old = os.umask(0o022)
    try:
        run("collect", str(inbox), "-o", str(tmp_path / "r.xlsx"))
    finally:
        os.umask(old)
    assert (tmp_path / "r.xlsx").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("lock", ["~$r.xlsx", ".~lock.r.xlsx#"])
def test_output_open_in_an_office_program_is_not_replaced(tmp_path, lock):
    inbox = _demo_inbox(tmp_path)
    (tmp_path / "r.xlsx").write_bytes(b"old")
    (tmp_path / lock).write_bytes(b"lock")
    result = run("collect", str(inbox), "-o", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 2 and "正在被Excel、WPS或LibreOffice打开" in result.output
    assert (tmp_path / "r.xlsx").read_bytes() == b"old"


def test_forms_refuse_a_folder_with_other_forms(tmp_path):
    assert run("forms", "--districts", "甲区,乙区", "-o", str(tmp_path / "f")).exit_code == 0
    assert run("forms", "--districts", "甲区,乙区", "-o", str(tmp_path / "f")).exit_code == 0  # same list again
    refused = run("forms", "--districts", "甲区,丙区", "-o", str(tmp_path / "f"))
    assert refused.exit_code == 2 and "区名单不同" in refused.output and "--force" in refused.output
    assert run("forms", "--districts", "甲区,丙区", "-o", str(tmp_path / "f"), "--force").exit_code == 0


def test_collect_twice_into_the_inbox(tmp_path):
    inbox = _demo_inbox(tmp_path)
    first = run("collect", str(inbox), "-o", str(inbox / "考核结果.xlsx"))
    second = run("collect", str(inbox), "-o", str(inbox / "考核结果.xlsx"))
    assert first.exit_code == second.exit_code == 1
    assert "本工具输出" in second.output
    sources = openpyxl.load_workbook(inbox / "考核结果.xlsx")["来源"]
    assert any(row[6] == "本工具输出" for row in sources.iter_rows(min_row=2, values_only=True))


def test_collect_on_blank_forms_says_nothing_was_filled(tmp_path):
    assert run("forms", "--districts", "甲区,乙区", "-o", str(tmp_path / "f")).exit_code == 0
    result = run("collect", str(tmp_path / "f"), "-o", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 1 and "没有填写任何数据" in result.output and not (tmp_path / "r.xlsx").exists()


def test_status_is_readable_at_80_columns_and_redirected(tmp_path):
    from rich.cells import cell_len
    inbox = _demo_inbox(tmp_path)
    result = run("status", str(inbox))
    assert result.exit_code == 1
    assert "…" not in result.output and "已 " not in result.output
    assert max(cell_len(line) for line in result.output.splitlines()) <= 80
    assert "雨花台区（2/3）" in result.output.replace("\n", "").replace("│", "").replace(" ", "")


# ---- issue 15: one file affects only its own verdict ----------------------------------------

def test_markup_and_odd_names_never_crash_the_terminal(tmp_path):
    assert run("forms", "--districts", "区[/],[bold]区", "-o", str(tmp_path / "f")).exit_code == 0
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    from assess_xl.demo import fill_workbook
    fill_workbook(tmp_path / "f" / "2007年度目标考核填报表-开发处.xlsx", inbox / "开发处[final].xlsx",
                  {"开发处": {"6-1": {"区[/]": "[/]", "[bold]区": "1"}}})
    gbk = os.fsencode(str(inbox)) + "/环监局.xlsx".encode("gbk")
    with open(gbk, "wb") as handle:
        handle.write((inbox / "开发处[final].xlsx").read_bytes())
    result = run("collect", str(inbox), "-o", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "开发处[final].xlsx" in result.output and "[/]" in result.output
    sources = openpyxl.load_workbook(tmp_path / "r.xlsx")["来源"]
    assert "inbox/环监局.xlsx" in [row[0] for row in sources.iter_rows(min_row=2, values_only=True)]


@pytest.mark.parametrize("failure", ["permission", "parent_is_file", "disk_full"])
def test_write_failures_are_one_line_and_leave_nothing(tmp_path, monkeypatch, failure):
    import errno
    out = tmp_path / "f"
    if failure == "parent_is_file":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "f"
    else:
        real_fsync, calls = os.fsync, []

        def fsync(fd):  # the sixth of fifteen files fails to reach the disk
            calls.append(fd)
            if len(calls) > 5:
                raise (PermissionError(13, "Permission denied") if failure == "permission"
                       else OSError(errno.ENOSPC, "No space left on device"))
            return real_fsync(fd)
        monkeypatch.setattr(os, "fsync", fsync)
    result = run("forms", "--districts", "甲区,乙区", "-o", str(out))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists() or list(out.iterdir()) == []


def test_limits_agree_between_forms_and_collect(tmp_path):
    too_many = ",".join(f"区{i}" for i in range(501))
    result = run("forms", "--districts", too_many, "-o", str(tmp_path / "f"))
    assert result.exit_code == 2 and "超过上限500" in result.output
    most = ",".join(f"第{i}区" + "名" * 40 for i in range(500))
    assert run("forms", "--districts", most, "-o", str(tmp_path / "f")).exit_code == 0
    collected = run("collect", str(tmp_path / "f" / "2007年度目标考核填报表-办公室.xlsx"), "-o", str(tmp_path / "r"))
    assert collected.exit_code == 1 and "没有填写任何数据" in collected.output  # read, not refused


def test_special_files_are_skipped_not_read(tmp_path):
    inbox = _demo_inbox(tmp_path)
    os.mkfifo(inbox / "pipe.xlsx")
    (tmp_path / "zero.xlsx").symlink_to("/dev/zero")
    result = run("collect", str(inbox), str(tmp_path / "zero.xlsx"), "/dev/urandom", "-o", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 1 and result.output.count("不是普通文件") == 3
    sources = [row for row in openpyxl.load_workbook(tmp_path / "r.xlsx")["来源"].iter_rows(min_row=2, values_only=True)]
    assert any(row[0].endswith("pipe.xlsx") and "不是普通文件" in row[10] for row in sources)


@pytest.mark.skipif(__import__("helpers").SOFFICE is None and os.environ.get("CI") != "true",
                    reason="LibreOffice (soffice) is not installed; .ci/run installs it")
def test_real_district_names_through_an_office_program(tmp_path):
    """Issue 9's defect end to end: forms for names as real lists write them, filled, saved by
    LibreOffice as .xlsx and .ods, collected: every value reaches its district."""
    from assess_xl.demo import fill_workbook
    from helpers import soffice_convert
    typed = {"高新区（虎丘区）": "3", "工业园区": "0", "=区": "1", "相城区 (北)": "2"}
    assert run("forms", "--districts", ",".join(typed), "-o", str(tmp_path / "f")).exit_code == 0
    fill_workbook(tmp_path / "f" / "2007年度目标考核填报表-开发处.xlsx", tmp_path / "开发处.xlsx", {"开发处": {"6-1": typed}})
    fill_workbook(tmp_path / "f" / "2007年度目标考核填报表-调研室.xlsx", tmp_path / "调研室.xlsx",
                  {"调研室": {"16-1": {name: "40" for name in typed}}})
    inbox = tmp_path / "inbox"
    soffice_convert(tmp_path / "开发处.xlsx", inbox, "ods")
    soffice_convert(tmp_path / "调研室.xlsx", inbox, "xlsx")
    result = run("collect", str(inbox), "-o", str(tmp_path / "r.xlsx"))
    assert result.exit_code == 1  # the other departments have not returned
    report = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert {row[0] for row in report["汇总"].iter_rows(min_row=5, values_only=True) if row[0]} == set(typed)
    problems = list(report["问题清单"].iter_rows(min_row=2, values_only=True))
    assert not [row for row in problems if "列" in str(row[6]) or "区名" in str(row[6])]
    not_received = " ".join(str(row[6]) for row in problems if "没有收到" in str(row[6]))
    assert "开发处" not in not_received and "调研室" not in not_received
    for name, count in typed.items():
        sheet = report[name if name != "相城区 (北)" else "相城区 (北)"]
        texts = " ".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value)
        assert f"违规审批项目数：{count}例" in texts, name


def terminal_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def listed_commands(help_text: str) -> dict[str, str]:
    """命令： section of a help screen → command → its description, wrapped lines joined."""
    listed: dict[str, str] = {}
    name = None
    for line in help_text.split("命令：\n", 1)[1].splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            name, _, text = line.strip().partition(" ")
            listed[name] = text.strip()
        elif name and line.strip():
            listed[name] += line.strip()
    return listed


@pytest.mark.parametrize("group", [[], ["rules"], ["send"]])
def test_help_lists_every_command_with_its_whole_description(group):
    """In an 80-column terminal every command has its description's first sentence, whole, and no
    line is wider than the terminal (a Chinese character takes two columns)."""
    done = assess_xl(*group, "--help", columns=80)
    assert done.returncode == 0, done.stderr
    listed = listed_commands(done.stdout)
    command = main if not group else main.get_command(click.Context(main), group[0])
    ctx = click.Context(command)
    assert sorted(listed) == sorted(command.list_commands(ctx))
    for name in command.list_commands(ctx):
        expected = command.get_command(ctx, name).help.strip().split("。")[0] + "。"
        assert "".join(listed[name].split()) == "".join(expected.split()), name
    assert "..." not in done.stdout.split("命令：", 1)[1]  # (the usage line ends in "[参数]...")
    assert max(terminal_width(line) for line in done.stdout.splitlines()) <= 80


def test_os_errors_are_said_in_chinese(tmp_path):
    """An output name the file system refuses: the reason in Chinese, not the system's English."""
    done = assess_xl("adjustments-template", "-o", tmp_path / ("调" * 120 + ".xlsx"))
    assert done.returncode == 2
    assert "文件名过长" in done.stderr and "too long" not in done.stderr


def test_a_value_understood_but_out_of_range_is_not_called_unrecognised(book, tmp_path):
    """2.5 … 3.5 for 14-1 (a score of at most 3): the problem says it exceeds the maximum, and the later
    correction says what was wrong with the earlier entry instead of "无法识别"."""
    blank = write_forms(book, ["甲区", "乙区"], tmp_path / "blank")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    fill_workbook(blank["监察室"], inbox / "监察室.xlsx", {"监察室": {"14-1": {"甲区": "3.5", "乙区": "4"}}})
    set_saved_time(inbox / "监察室.xlsx", "2008-01-05T08:00:00Z")
    fill_workbook(blank["监察室"], inbox / "监察室-改.xlsx", {"监察室": {"14-1": {"甲区": "3"}}})
    set_saved_time(inbox / "监察室-改.xlsx", "2008-01-06T08:00:00Z")
    done = assess_xl("collect", inbox, "-o", tmp_path / "r.xlsx")
    assert done.returncode == 1, done.stderr
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx")["问题清单"]
    said = {(row[4], row[5]): row[6] for row in sheet.iter_rows(min_row=2, values_only=True) if row[5] == "14-1"}
    assert said[("乙区", "14-1")].startswith("“4”超过最高分3，本项不计分。")
    assert said[("甲区", "14-1")].startswith("“3.5”（inbox/监察室.xlsx）超过最高分3，未计分；已由较晚提交的“3”")
    assert not [text for text in said.values() if "无法识别" in text]
