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
