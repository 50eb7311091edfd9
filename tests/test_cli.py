from click.testing import CliRunner

from assess_xl.cli import main


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


@pytest.mark.parametrize("command", [[], ["rules"], ["rules", "check"], ["forms"], ["collect"], ["status"], ["demo"]])
def test_every_command_has_chinese_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert any("\u4e00" <= ch <= "\u9fff" for ch in result.output.split("Options")[0])
    ctx_command = cli.main
    for name in command:
        ctx_command = ctx_command.commands[name]
    for param in ctx_command.params:
        if isinstance(param, __import__("click").Option) and param.name not in ("help", "version"):
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
    assert cli.parse_districts("玄武区，秦淮区、建邺区") == ["玄武区", "秦淮区", "建邺区"]
    assert cli.parse_districts("玄武区,,秦淮区") == ["玄武区", "秦淮区"]


@pytest.mark.parametrize("spec", ["玄武区 秦淮区", "玄武区\u3000秦淮区", " 玄武区 , 秦淮区 "])
def test_district_list_with_spaces_is_split(spec):
    assert cli.parse_districts(spec) == ["玄武区", "秦淮区"]


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
        cli.write_atomically(target, b"new report")
    assert target.read_bytes() == b"old report"
    assert [p.name for p in tmp_path.iterdir()] == ["考核结果.xlsx"]  # no temporary left behind


def test_locked_report_is_a_clear_error(tmp_path, monkeypatch):
    target = tmp_path / "r.xlsx"
    target.write_bytes(b"old")

    def locked(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(os, "replace", locked)
    with pytest.raises(cli.UserError, match="文件被占用"):
        cli.write_atomically(target, b"new")
    assert target.read_bytes() == b"old"


def test_console_script_entry_point(tmp_path):
    import subprocess
    import shutil
    exe = shutil.which("assess-xl")
    assert exe, "the console script is installed by pip install"
    done = subprocess.run([exe, "rules", "check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "填报指标 87 个" in done.stdout


@pytest.mark.parametrize("args,message", [
    (["forms", "-o", "x"], "缺少选项 --districts"),
    (["collect", "in", "-o", "r.xlsx", "--on-conflict", "maybe"], "选项 --on-conflict 的值无效，可选：latest、error"),
    (["collect", "in", "--bogus"], "没有选项 --bogus"),
    (["colect"], "没有这个命令"),
    (["collect"], "缺少参数"),
])
def test_usage_errors_are_one_chinese_line(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Usage:" not in result.output and "Traceback" not in result.output
