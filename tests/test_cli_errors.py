"""cli/errors.py: every refusal of the library (a problems.AssessError) becomes one Chinese message on
stderr and exit 2 (1 when part of the work was done), in one place; run through the real entry point."""
from __future__ import annotations

import click
from click.testing import CliRunner

from assess_xl import problems as P
from assess_xl.cli.errors import MainGroup
from helpers import assess_xl

BAD_RULEBOOK = "year: 2008\ntitle: x\ndepartments: [甲]\ncategories: []\ntargets:\n- {number: 1, category: 5}\n"


def test_an_invalid_rulebook_is_said_under_its_heading(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD_RULEBOOK, encoding="utf-8")
    done = assess_xl("rules", "check", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "错误：评分细则无法使用：\nbad.yaml：目标1：所属类别5不存在。\nbad.yaml：目标1：没有填报指标。\n"
    assert done.stdout == ""


def test_a_rulebook_that_does_not_load_stops_forms_the_same_way(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD_RULEBOOK, encoding="utf-8")
    done = assess_xl("forms", "--districts", "甲区", "--rules", "bad.yaml", "-o", "forms", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("错误：评分细则无法使用：\nbad.yaml：目标1：所属类别5不存在。")
    assert not (tmp_path / "forms").exists()


def test_a_bad_district_list_is_said(tmp_path):
    done = assess_xl("forms", "--districts", "甲区,甲区", "-o", "forms", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "错误：区名单不能使用：\n区名“甲区”重复。每个区只能出现一次，请改用能区分的名称。\n"
    assert not (tmp_path / "forms").exists()


def test_a_bad_sender_is_said_by_the_library(tmp_path):
    (tmp_path / "通讯录.csv").write_text("部门,联系人,邮箱\n办公室,,a@b.cn\n", encoding="utf-8")
    done = assess_xl("send", "forms", "--forms", ".", "--contacts", "通讯录.csv", "--from", "bad@@x", "--outbox", "out",
                     cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("错误：--from 的值“bad@@x”不是有效的发件人。请写成 zhc@hbj.gov.cn 或 "
                           "\"市环保局综合处 <zhc@hbj.gov.cn>\"（邮箱地址只能含英文字母、数字和 . - _）。\n")
    assert not (tmp_path / "out").exists()


class NewRefusal(P.AssessError):
    """A refusal the command line has never heard of."""


class RefusalWithHeading(P.AssessError):
    heading = P.Code.RULEBOOK_UNUSABLE


def group_raising(error: Exception) -> click.Group:
    @click.group(cls=MainGroup)
    def top():
        pass

    @top.command("go")
    def go():
        raise error

    return top


def test_any_library_refusal_is_caught_at_the_base():
    refusal = NewRefusal(P.make(P.Code.YEAR_EXISTS, where="2008"))
    done = CliRunner().invoke(group_raising(refusal), ["go"])
    assert done.exit_code == 2
    assert refusal.problem.message in done.output and "Traceback" not in done.output


def test_a_refusal_after_part_of_the_work_exits_1_and_a_heading_introduces_the_problems():
    refusal = RefusalWithHeading(P.make(P.Code.RULE_FILE_MISSING, at="a.yaml"))
    refusal.partly_done = True
    done = CliRunner().invoke(group_raising(refusal), ["go"])
    assert done.exit_code == 1
    assert "错误：评分细则无法使用：\na.yaml：找不到评分细则文件。" in done.output


def test_other_errors_are_not_swallowed():
    done = CliRunner().invoke(group_raising(KeyError("bug")), ["go"])
    assert isinstance(done.exception, KeyError)


def test_rulebook_warnings_and_contact_rows_left_out_read_as_before(tmp_path):
    checked = assess_xl("rules", "check")
    assert checked.returncode == 0
    assert "警告：rulebook-2007.yaml：目标2分值6分，但计分规则最多只能得5分。\n" in checked.stdout and "共 3 条警告。" in checked.stdout
    (tmp_path / "通讯录.csv").write_text("部门,联系人,邮箱\n不存在处,,a@b.cn\n办公室,,not-an-address\n", encoding="utf-8")
    (tmp_path / "forms").mkdir()
    sent = assess_xl("send", "forms", "--forms", "forms", "--contacts", "通讯录.csv", "--from", "zhc@example.cn",
                     "--outbox", "out", cwd=tmp_path)
    assert sent.stderr.startswith(
        "通讯录：通讯录.csv，第2行A列（A2格）：部门“不存在处”不在评分细则的部门中，该行未采用。请填写评分细则中的部门名称（如办公室、")
    assert "\n通讯录：通讯录.csv，第3行C列（C3格）：办公室的邮箱“not-an-address”无效，该行未采用。" in sent.stderr


def test_rules_export_and_import_refuse_a_rulebook_that_does_not_load_before_the_target(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD_RULEBOOK, encoding="utf-8")
    for command, target in (("export", "bad.txt"), ("import", "bad.txt"), ("export", "x.xlsx")):
        done = assess_xl("rules", command, "bad.yaml", "-o", target, cwd=tmp_path)
        assert done.returncode == 2 and done.stderr.startswith("错误：评分细则无法使用：\nbad.yaml：目标1：所属类别5不存在。")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]
    exported = assess_xl("rules", "export", "-o", "细则.txt", "--", str(tmp_path / "none.yaml"), cwd=tmp_path)
    assert exported.returncode == 2 and "找不到评分细则文件" in exported.stderr
    assess_xl("rules", "init", "-o", "2008.yaml", cwd=tmp_path)
    wrong = assess_xl("rules", "import", "2008.yaml", "-o", "2008.txt", cwd=tmp_path)
    assert wrong.returncode == 2 and wrong.stderr == "错误：评分细则只能保存为 .yaml 或 .xlsx，不能保存为“.txt”。\n"
