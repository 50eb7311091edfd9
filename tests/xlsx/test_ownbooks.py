"""The coordinator's own workbooks are untrusted input too (issue 19, items 17 and 18), through the
installed console script: adjustments, last year's scorecard, contacts and a rulebook workbook are read
in a sandboxed child after the pre-flight; odd numbers and odd department names get clear messages."""
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from assess_xl.publish import forms

from assess_xl.xlsx import layout
from assess_xl.demo import fill_workbook
from helpers import write_forms

EXE = Path(sys.executable).parent / "assess-xl"
DISTRICTS = ["甲区", "乙区"]
FAR_CELL = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'


def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    done = subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)
    assert done.returncode != 134 and done.returncode >= 0, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stdout + done.stderr, done.stderr[-3000:]
    return done


def with_far_cell(path: Path, target: Path) -> Path:
    """The workbook with a cell at XFD1048576 in its first sheet (python-calamine aborts on it)."""
    with zipfile.ZipFile(path) as source:
        parts = [(info, source.read(info.filename)) for info in source.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in parts:
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", FAR_CELL) if b"</sheetData>" in data else data.replace(
                    b"<sheetData/>", b"<sheetData>" + FAR_CELL)
            out.writestr(info, data)
    target.write_bytes(buffer.getvalue())
    return target


@pytest.fixture(scope="module")
def inbox(book, tmp_path_factory):
    folder = tmp_path_factory.mktemp("books")
    blank = write_forms(book, DISTRICTS, folder / "blank")
    (folder / "inbox").mkdir()
    fill_workbook(blank["办公室"], folder / "inbox" / "bgs.xlsx", {"办公室": {"1-1": {"甲区": "是", "乙区": "否"}}})
    return folder


def far(kind: str, folder: Path) -> Path:
    """A workbook the tool itself writes for the coordinator, with a far cell added."""
    made = folder / f"{kind}.xlsx"
    if not made.exists():
        command = {"adjustments": ["adjustments-template"], "contacts": ["contacts-template"],
                   "rules": ["rules", "init"]}[kind]
        assert cli(*command, "-o", made).returncode == 0
    return with_far_cell(made, folder / f"far-{kind}.xlsx")


@pytest.mark.parametrize("option,kind", [("--adjustments", "adjustments"), ("--previous", "adjustments")])
def test_collect_with_a_far_cell_in_a_coordinator_workbook(inbox, tmp_path, option, kind):
    bad = far(kind, tmp_path)
    out = tmp_path / "结果.xlsx"
    done = cli("collect", inbox / "inbox", "-o", out, "--districts", "甲区,乙区", option, bad)
    assert done.returncode == 1 and out.exists()
    problems = [row for row in openpyxl.load_workbook(out, read_only=True)["问题清单"].iter_rows(values_only=True)
                if row[1] == bad.name]
    assert problems and "第1048576行" in problems[0][6], problems


def test_contacts_with_a_far_cell(inbox, tmp_path):
    bad = far("contacts", tmp_path)
    done = cli("collect", inbox / "inbox", "-o", tmp_path / "r.xlsx", "--contacts", bad)
    assert done.returncode == 2 and "通讯录" in done.stderr and "第1048576行" in done.stderr
    done = cli("send", "forms", "--forms", inbox / "blank", "--contacts", bad, "--from", "zhc@example.cn",
               "--outbox", tmp_path / "outbox")
    assert done.returncode == 2 and "第1048576行" in done.stderr


@pytest.mark.parametrize("command", [["rules", "check"], ["rules", "import", "-o", "x.yaml"]])
def test_rulebook_workbook_with_a_far_cell(tmp_path, command):
    bad = far("rules", tmp_path)
    done = cli(*command[:2], bad, *command[2:], cwd=tmp_path)
    assert done.returncode == 2 and "第1048576行" in done.stdout + done.stderr
    assert not (tmp_path / "x.yaml").exists()


def scorecard(inbox: Path, folder: Path) -> Path:
    out = folder / "上年.xlsx"
    assert cli("collect", inbox / "inbox", "-o", out, "--districts", "甲区,乙区").returncode == 1
    return out


@pytest.mark.parametrize("number", ["Infinity", "NaN", "-Infinity", "1e999"])
def test_previous_scorecard_with_a_number_that_is_not_finite(inbox, tmp_path, number):
    last = scorecard(inbox, tmp_path)
    workbook = openpyxl.load_workbook(last)
    sheet = workbook["结果信息"]
    for row in sheet.iter_rows():
        if isinstance(row[1].value, str) and row[0].value == "district:甲区":
            data = json.loads(row[1].value)
            assert "总分" in data["totals"]
            row[1].value = re.sub(r'("总分": )[-0-9.e]+', r"\g<1>" + number, row[1].value)
            assert number in row[1].value
    workbook.save(last)
    out = tmp_path / "今年.xlsx"
    done = cli("collect", inbox / "inbox", "-o", out, "--districts", "甲区,乙区", "--previous", last)
    assert done.returncode == 1 and out.exists()
    rows = list(openpyxl.load_workbook(out, read_only=True)["问题清单"].iter_rows(values_only=True))
    assert any(row[1] == last.name and "不是有效数字" in row[6] for row in rows)


def edited_rulebook(tmp_path: Path, sheet: str, label: str, value) -> Path:
    path = tmp_path / "r.xlsx"
    if not path.exists():
        assert cli("rules", "init", "-o", path).returncode == 0
    workbook = openpyxl.load_workbook(path)
    ws = workbook[sheet]
    header = [c.value for c in ws[1]]
    rows = list(ws.iter_rows(min_row=3)) if sheet != "说明" else list(ws.iter_rows(min_row=2))
    wanted = {"说明": lambda row: row[0].value == "年度",
              "指标": lambda row: row[header.index("类型")].value == "数量"}.get(sheet, lambda row: True)
    row = next(r for r in rows if wanted(r))
    row[header.index(label)].value = value
    target = tmp_path / f"{sheet}-{label}.xlsx"
    workbook.save(target)
    return target


@pytest.mark.parametrize("sheet,label,value,expected", [
    ("说明", "内容", "二〇〇八", "年度"),
    ("说明", "内容", "2008年", "年度"),
    ("目标", "分值", "两分", "分值"),
    ("目标", "基础分", "四", "基础分"),
    ("指标", "上限", "很多", "上限"),
])
@pytest.mark.parametrize("command", ["check", "import"])
def test_rulebook_with_text_where_a_number_belongs(tmp_path, sheet, label, value, expected, command):
    path = edited_rulebook(tmp_path, sheet, label, value)
    extra = ["-o", tmp_path / "x.yaml"] if command == "import" else []
    done = cli("rules", command, path, *extra)
    assert done.returncode == 2, done.stdout
    said = done.stdout + done.stderr
    assert value in said and expected in said and "数字" in said


def rulebook_with_department(tmp_path: Path, name: str) -> Path:
    text = (Path(__file__).parents[2] / "templates" / "rulebook-2007.yaml").read_text(encoding="utf-8")
    path = tmp_path / "dept.yaml"
    path.write_text(text.replace("辐射站", json.dumps(name, ensure_ascii=False)), encoding="utf-8")
    return path


@pytest.mark.parametrize("name,reason", [
    ("辐射站/../../监测", "不允许的字符"),
    ("辐射站[1]", "不允许的字符"),
    ("辐射:站", "不允许的字符"),
    ("辐射*站?", "不允许的字符"),
    ("辐射站\\监测", "不允许的字符"),
    ("辐" * 32, "31个字符"),
    ("'辐射站'", "单引号"),
    ("填报说明", "本工具使用"),
    ("辐射\n站", "控制字符"),
])
def test_rules_check_refuses_department_names_excel_cannot_hold(tmp_path, name, reason):
    path = rulebook_with_department(tmp_path, name)
    done = cli("rules", "check", path)
    assert done.returncode == 2 and reason in done.stdout + done.stderr
    done = cli("forms", "--rules", path, "--districts", "甲区,乙区", "-o", tmp_path / "forms")
    assert done.returncode == 2
    assert not list(tmp_path.parent.glob("监测*")) and not (tmp_path / "forms").exists()


def test_a_department_of_31_characters_is_accepted(tmp_path):
    done = cli("rules", "check", rulebook_with_department(tmp_path, "辐" * 31))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", ["辐射站/../../监测", "..", "a\\b", "CON", "x\x00y", "<>:\"|?*", " . "])
def test_form_file_names_are_safe_whatever_the_name(book, name):
    made = forms.file_name(book, name)
    assert made == layout.safe_file_name(made) and "/" not in made and "\\" not in made and "\x00" not in made
    assert Path(made).name == made and not made.startswith(".")
