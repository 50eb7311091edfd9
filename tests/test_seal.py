"""The sealed year through the real CLI: seal the demo year, verify a copy elsewhere under another locale, time
zone and hash seed with the files' times changed, and see a flipped byte and an edited figure named."""
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.helpers import assess_xl, set_saved_time

FOREIGN = {"LC_ALL": "C", "TZ": "America/New_York", "PYTHONHASHSEED": "1"}
SAVED = "2008-01-05T08:00:00Z"
LATER_COPY = "开发处-更正.xlsx"


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    """The demo year, plus a second 开发处 return with one value changed and the same saved time, so which
    one is the later submission is decided by the file times alone; sealed by collect --seal."""
    root = tmp_path_factory.mktemp("year")
    demo = assess_xl("demo", "-o", root / "demo")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    inbox = root / "收件箱"
    shutil.copytree(root / "demo" / "2-交回的填报表", inbox)
    corrected = _with_changed_cell(inbox / "开发处-已填.xlsx", inbox / LATER_COPY)
    set_saved_time(inbox / "开发处-已填.xlsx", SAVED, mtime=1_199_500_000)
    set_saved_time(corrected, SAVED, mtime=1_199_600_000)  # the correction is the later file
    run = assess_xl("collect", "收件箱", "-o", "结果.xlsx", "--seal", "2007年考核.zip", cwd=root)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    assert "封存包已写入 2007年考核.zip" in run.stdout
    return root / "2007年考核.zip"


def _with_changed_cell(source: Path, target: Path) -> Path:
    import openpyxl
    workbook = openpyxl.load_workbook(source)
    sheet = workbook["开发处"]
    for row in sheet.iter_rows():
        if row[0].value == "6-1" or any(c.value == "6-1" for c in row[:3]):
            cell = next(c for c in reversed(row) if isinstance(c.value, (int, float)))
            cell.value = cell.value + 2
            break
    else:
        raise AssertionError("no 6-1 row")
    workbook.save(target)
    return target


def unpacked_copy(bundle: Path, where: Path) -> Path:
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(where)
    (bag,) = [p for p in where.iterdir() if p.is_dir()]
    for number, path in enumerate(sorted(bag.rglob("*"), reverse=True)):  # times as a careless copy leaves them
        os.utime(path, (1_700_000_000 + number * 977, 1_700_000_000 + number * 977))
    return bag


def test_bundle_is_a_bagit_bag_with_everything(sealed):
    with zipfile.ZipFile(sealed) as archive:
        names = archive.namelist()
        record = json.loads(archive.read(next(n for n in names if n.endswith("data/record.json"))))
    assert any(n.endswith("/bagit.txt") for n in names) and any(n.endswith("/manifest-sha256.txt") for n in names)
    assert any(n.endswith("data/rulebook/rulebook-2007.yaml") for n in names)
    assert any(n.endswith(f"data/inputs/收件箱/{LATER_COPY}") for n in names)
    assert any(n.endswith("data/outputs/结果.xlsx") for n in names)
    assert record["tool"]["name"] == "assess-xl" and len(record["rulebook"]["fingerprint"]) == 16
    assert {item["file"] for item in record["inputs"]} >= {f"收件箱/{LATER_COPY}", "收件箱/开发处-已填.xlsx"}
    mtimes = {item["file"]: item["mtime_ns"] for item in record["inputs"]}
    assert mtimes[f"收件箱/{LATER_COPY}"] == 1_199_600_000 * 10 ** 9
    assert record["figures"]["totals"]["鼓楼区"]["排名"] >= 1 and record["run"]["date"]


def test_copy_verifies_elsewhere_under_another_locale_zone_and_seed(sealed, tmp_path):
    copy = tmp_path / "别处" / "封存.zip"
    copy.parent.mkdir()
    shutil.copyfile(sealed, copy)
    os.utime(copy, (1_600_000_000, 1_600_000_000))
    zipped = assess_xl("verify", copy, env=FOREIGN, cwd=tmp_path)
    assert zipped.returncode == 0, zipped.stdout + zipped.stderr
    assert zipped.stdout.strip().endswith("一致")
    folder = assess_xl("verify", unpacked_copy(copy, tmp_path / "解压"), env=FOREIGN)
    assert folder.returncode == 0, folder.stdout + folder.stderr
    assert "不一致" not in folder.stdout and folder.stdout.strip().endswith("一致")


def test_flipped_byte_in_one_return_is_named(sealed, tmp_path):
    bag = unpacked_copy(sealed, tmp_path)
    victim = bag / "data" / "inputs" / "收件箱" / LATER_COPY
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    run = assess_xl("verify", bag, env=FOREIGN)
    assert run.returncode != 0
    assert f"文件被改动 data/inputs/收件箱/{LATER_COPY}：内容与清单不符" in run.stdout
    assert [line for line in run.stdout.splitlines() if line.startswith("文件被改动")] == [
        f"文件被改动 data/inputs/收件箱/{LATER_COPY}：内容与清单不符（已被改动）"]


def test_changed_figure_in_the_record_is_named(sealed, tmp_path):
    bag = unpacked_copy(sealed, tmp_path)
    record_path = bag / "data" / "record.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["figures"]["totals"]["鼓楼区"]["总分"] += 1
    record_path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    run = assess_xl("verify", bag)
    assert run.returncode != 0
    assert "文件被改动 data/record.json" in run.stdout
    assert "不一致 总分与排名 鼓楼区 总分：封存记录" in run.stdout
    assert run.stdout.count("不一致 ") == 1


def test_newer_tool_version_is_said_plainly(sealed, tmp_path):
    bag = unpacked_copy(sealed, tmp_path)
    record_path = bag / "data" / "record.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["tool"]["version"] = "99.0.0"
    record_path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    run = assess_xl("verify", bag)
    assert run.returncode != 0
    assert "此封存包由较新版本的assess-xl（99.0.0）生成" in run.stdout


def test_seal_command_on_the_same_inputs_as_collect(sealed, tmp_path):
    inbox = tmp_path / "收件箱"
    with zipfile.ZipFile(sealed) as archive:
        for name in archive.namelist():
            if "/data/inputs/收件箱/" in name:
                (inbox / Path(name).name).parent.mkdir(exist_ok=True)
                (inbox / Path(name).name).write_bytes(archive.read(name))
    run = assess_xl("seal", "收件箱", "-o", "封存.zip", cwd=tmp_path)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    checked = assess_xl("verify", tmp_path / "封存.zip")
    assert checked.returncode == 0 and checked.stdout.strip().endswith("一致"), checked.stdout


def test_seal_on_a_years_folder(sealed, tmp_path, monkeypatch):
    from assess_xl import year as year_module
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    year = year_module.create(tmp_path / "2007年度", districts=["玄武区", "秦淮区", "建邺区", "鼓楼区", "栖霞区", "雨花台区"])
    with zipfile.ZipFile(sealed) as archive:
        for name in archive.namelist():
            if "/data/inputs/收件箱/" in name:
                (year.inbox / Path(name).name).write_bytes(archive.read(name))
    run = assess_xl("seal", year.root, env={"XDG_CONFIG_HOME": str(tmp_path / "config")})
    assert run.returncode in (0, 1), run.stdout + run.stderr
    bundle = year.results_dir / "封存包.zip"
    with zipfile.ZipFile(bundle) as archive:
        record = json.loads(archive.read(next(n for n in archive.namelist() if n.endswith("data/record.json"))))
    assert record["options"]["districts"] == ["玄武区", "秦淮区", "建邺区", "鼓楼区", "栖霞区", "雨花台区"]
    assert record["run"]["arguments"][0]["stored"] == "收件箱"
    checked = assess_xl("verify", bundle, env=FOREIGN)
    assert checked.returncode == 0 and checked.stdout.strip().endswith("一致"), checked.stdout
