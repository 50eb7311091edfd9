"""The sealed year through the real CLI: seal the demo year, verify a copy elsewhere under another locale, time
zone and hash seed with the files' times changed, and see a flipped byte and an edited figure named."""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from assess_xl import __version__
from tests.helpers import assess_xl, requires_soffice, set_saved_time, soffice_convert

FOREIGN = {"LC_ALL": "C", "TZ": "America/New_York", "PYTHONHASHSEED": "1"}
SAVED = "2008-01-05T08:00:00Z"
LATER_COPY = "开发处-更正.xlsx"


@pytest.fixture(scope="module")
def demo_returns(tmp_path_factory):
    """The demo year's returns, made once for this module."""
    root = tmp_path_factory.mktemp("demo")
    demo = assess_xl("demo", "-o", root / "demo")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    return root / "demo" / "2-交回的填报表"


@pytest.fixture(scope="module")
def sealed(demo_returns, tmp_path_factory):
    """The demo year, plus a second 开发处 return with one value changed and the same saved time, so which
    one is the later submission is decided by the file times alone; sealed by collect --seal."""
    root = tmp_path_factory.mktemp("year")
    inbox = root / "收件箱"
    shutil.copytree(demo_returns, inbox)
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
    assert run.returncode == 2
    assert "此封存包由较新版本的assess-xl（99.0.0）生成" in run.stdout
    assert "文件被改动 data/record.json" in run.stdout  # edited here, not made so: the manifest says it
    genuine = assess_xl("verify", resealed(bag))
    assert genuine.returncode == 2 and "文件被改动" not in genuine.stdout
    assert "此封存包由较新版本的assess-xl（99.0.0）生成，本机是" in genuine.stdout


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


# ---- what verify says: exit statuses, a newer rulebook or record, not a bundle --------------------

def resealed(bag: Path) -> Path:
    """The bag's manifests made again after an edit: a bundle as a newer tool would have written it."""
    import bagit
    bagit.Bag(str(bag)).save(manifests=True)
    return bag


def test_exit_statuses_agree_differ_and_refused(sealed, tmp_path):
    assert assess_xl("verify", sealed).returncode == 0
    bag = unpacked_copy(sealed, tmp_path / "改")
    victim = bag / "data" / "inputs" / "收件箱" / LATER_COPY
    victim.write_bytes(victim.read_bytes()[:-1] + bytes([victim.read_bytes()[-1] ^ 1]))
    assert assess_xl("verify", bag).returncode == 1
    (tmp_path / "不是.zip").write_bytes(b"PK\x03\x04 not really")
    refused = assess_xl("verify", tmp_path / "不是.zip")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert f"{tmp_path / '不是.zip'} 不是封存包（不是有效的zip文件）。请给出 seal 生成的 .zip 文件或其解压后的文件夹。" in \
        refused.stdout.replace("\n", "")
    folder = assess_xl("verify", tmp_path)  # a folder that is not a bag
    assert folder.returncode == 2 and "不是封存包（其中没有bagit.txt）" in folder.stdout.replace("\n", "")


def test_newer_record_format_is_refused_by_name(sealed, tmp_path):
    bag = unpacked_copy(sealed, tmp_path)
    record_path = bag / "data" / "record.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["format"] = 99
    record_path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    run = assess_xl("verify", resealed(bag))
    assert run.returncode == 2, run.stdout
    assert f"（{__version__}，记录格式99）生成" in run.stdout.replace("\n", "") and "请升级assess-xl后再核验" in run.stdout.replace("\n", "")
    assert "文件被改动" not in run.stdout  # the manifests match: nothing was tampered with


def test_rulebook_of_a_newer_version_is_said_plainly(sealed, tmp_path):
    bag = unpacked_copy(sealed, tmp_path)
    rules = bag / "data" / "rulebook" / "rulebook-2007.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("kind: ratio", "kind: ratio_v2", 1), encoding="utf-8")
    run = assess_xl("verify", resealed(bag))
    shown = run.stdout.replace("\n", "")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "封存包中的评分细则本版本无法读取（可能由较新版本的assess-xl或较新的细则格式制作）" in shown
    assert "未知的计分方式“ratio_v2”" in shown and "请升级assess-xl后再核验" in shown


# ---- the clock and the time zone of the run are the recorded ones ------------------------------

MOVED_CLOCK = Path(__file__).parent / "data" / "moved_clock"


@pytest.fixture(scope="module")
def future_saved(demo_returns, tmp_path_factory):
    """开发处's first return claims to be saved 30 days from now (implausible when sealed, so its file time
    counts and the correction, saved in 2008, wins); sealed today."""
    root = tmp_path_factory.mktemp("clock")
    inbox = root / "收件箱"
    shutil.copytree(demo_returns, inbox)
    corrected = _with_changed_cell(inbox / "开发处-已填.xlsx", inbox / LATER_COPY)
    soon = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    set_saved_time(inbox / "开发处-已填.xlsx", soon, mtime=1_199_500_000)
    set_saved_time(corrected, "2008-01-06T08:00:00Z", mtime=1_199_600_000)
    run = assess_xl("seal", "收件箱", "-o", "封存.zip", cwd=root)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    return root / "封存.zip"


def test_verify_with_the_clock_moved_uses_the_recorded_run_time(future_saved, tmp_path):
    """A year later the first return's saved time is no longer in the future; a re-run by today's clock
    would let it win. verify re-runs with the recorded run time: 一致."""
    with zipfile.ZipFile(future_saved) as archive:
        record = json.loads(archive.read(next(n for n in archive.namelist() if n.endswith("data/record.json"))))
    assert datetime.fromisoformat(record["run"]["date"]).tzinfo is not None and record["run"]["zone"]
    winner = {tuple(p[1:6]): p[6] for p in record["figures"]["problems"] if p[5] == "6-1"}
    assert any(LATER_COPY in message and "采用较晚提交" in message for message in winner.values())
    moved = {"PYTHONPATH": str(MOVED_CLOCK), "ASSESS_XL_TEST_CLOCK_DAYS": "400", **FOREIGN}
    clock = assess_xl("verify", future_saved, env=moved)
    assert clock.returncode == 0 and clock.stdout.strip().endswith("一致"), clock.stdout
    probe = subprocess.run([sys.executable, "-c", "import datetime; print(datetime.datetime.now().year)"],
                           env={**os.environ, **moved}, capture_output=True, text=True)
    assert int(probe.stdout) >= datetime.now().year + 1  # the clock really was moved in that process


@requires_soffice
def test_ods_saved_local_time_reads_in_the_recorded_zone(demo_returns, tmp_path):
    """An .ods records its saved time without a zone (local time): sealed in Shanghai, where the .xlsx
    correction (05:00Z) is later than the .ods (10:00+08 = 02:00Z); verified in New York, where the same
    .ods time would be 15:00Z and win. verify re-runs in the recorded zone: 一致."""
    inbox = tmp_path / "收件箱"
    shutil.copytree(demo_returns, inbox)
    corrected = _with_changed_cell(inbox / "开发处-已填.xlsx", inbox / LATER_COPY)
    set_saved_time(corrected, "2008-01-05T05:00:00Z")
    converted = soffice_convert(inbox / "开发处-已填.xlsx", tmp_path / "ods", "ods")
    (inbox / "开发处-已填.xlsx").unlink()
    _set_ods_date(converted, inbox / "开发处-已填.ods", "2008-01-05T10:00:00")
    shanghai = {"TZ": "Asia/Shanghai"}
    run = assess_xl("seal", "收件箱", "-o", "封存.zip", cwd=tmp_path, env=shanghai)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    with zipfile.ZipFile(tmp_path / "封存.zip") as archive:
        record = json.loads(archive.read(next(n for n in archive.namelist() if n.endswith("data/record.json"))))
    assert record["run"]["zone"] == "Asia/Shanghai"
    conflicts = [p[6] for p in record["figures"]["problems"] if p[5] == "6-1" and "采用较晚提交" in p[6]]
    assert conflicts and all(f"（收件箱/{LATER_COPY}）。" in message for message in conflicts)
    checked = assess_xl("verify", tmp_path / "封存.zip", env=FOREIGN)
    assert checked.returncode == 0 and checked.stdout.strip().endswith("一致"), checked.stdout


def _set_ods_date(source: Path, target: Path, stamp: str) -> None:
    """meta.xml's dc:date (LibreOffice writes local time without a zone) set to `stamp`."""
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            data = archive.read(info.filename)
            if info.filename == "meta.xml":
                data = re.sub(rb"<dc:date>[^<]*</dc:date>", b"<dc:date>" + stamp.encode() + b"</dc:date>", data)
                assert stamp.encode() in data
            out.writestr(info, data)


# ---- another order of files on disk -------------------------------------------------------------

def copied_in_order(bag: Path, target: Path, order) -> Path:
    """The bag's files created anew under `target` in the given order (each folder made when its first file
    is), so the directory listing order on disk differs from the original's."""
    files = [p for p in bag.rglob("*") if p.is_file()]
    for path in order(files):
        copy = target / path.relative_to(bag)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    return target


@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_another_order_of_files_on_disk_verifies_with_equal_totals(sealed, tmp_path, order):
    bag = unpacked_copy(sealed, tmp_path / "原")
    arrange = ((lambda files: sorted(files, reverse=True)) if order == "reversed"
               else (lambda files: random.Random(23).sample(sorted(files), len(files))))
    copy = copied_in_order(bag, tmp_path / "副本", arrange)
    inbox = copy / "data" / "inputs" / "收件箱"
    listed, original = [e.name for e in os.scandir(inbox)], [e.name for e in os.scandir(bag / "data/inputs/收件箱")]
    assert sorted(listed) == sorted(original)
    run = assess_xl("verify", copy, env=FOREIGN)
    assert run.returncode == 0 and run.stdout.strip().endswith("一致"), run.stdout
    again = json.loads(subprocess.run([sys.executable, "-m", "assess_xl.seal", str(copy)], capture_output=True,
                                      check=True).stdout)
    record = json.loads((copy / "data" / "record.json").read_text(encoding="utf-8"))
    assert again["figures"]["totals"] == record["figures"]["totals"]
    assert {d: row["排名"] for d, row in again["figures"]["totals"].items()} == \
        {d: row["排名"] for d, row in record["figures"]["totals"].items()}


# ---- everything the run used, as received ------------------------------------------------------

def test_mail_zip_adjustments_last_year_and_notices_are_sealed_as_received(demo_returns, sealed, tmp_path):
    from tests.helpers import attachment, message
    inbox = tmp_path / "收件箱"
    shutil.copytree(demo_returns, inbox)
    mailed = message([attachment((inbox / "开发处-已填.xlsx").read_bytes(), 'attachment; filename="kfc.xlsx"')])
    (inbox / "开发处.eml").write_bytes(mailed)
    (inbox / "开发处-已填.xlsx").unlink()
    with zipfile.ZipFile(inbox / "生态处.zip", "w") as archive:
        archive.write(inbox / "生态处-已填.xlsx", "生态处.xlsx")
    (inbox / "生态处-已填.xlsx").unlink()
    zipped = (inbox / "生态处.zip").read_bytes()
    assert assess_xl("adjustments-template", "-o", tmp_path / "调整表.xlsx").returncode == 0
    import openpyxl
    workbook = openpyxl.load_workbook(tmp_path / "调整表.xlsx")
    workbook["调整"].append(["鼓楼区", "6-1", 3, "复核发现漏报1例", "李四"])
    workbook.save(tmp_path / "调整表.xlsx")
    shutil.copyfile(sealed.parent / "结果.xlsx", tmp_path / "上年考核结果.xlsx")
    run = assess_xl("collect", "收件箱", "-o", "结果.xlsx", "--adjustments", "调整表.xlsx", "--previous",
                    "上年考核结果.xlsx", "--notices", "通报", "--seal", "封存.zip", cwd=tmp_path)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    with zipfile.ZipFile(tmp_path / "封存.zip") as archive:
        stored = {name.split("/data/", 1)[1]: name for name in archive.namelist() if "/data/" in name}
        assert archive.read(stored["inputs/收件箱/开发处.eml"]) == mailed
        assert archive.read(stored["inputs/收件箱/生态处.zip"]) == zipped
        assert archive.read(stored["adjustments/调整表.xlsx"]) == (tmp_path / "调整表.xlsx").read_bytes()
        assert archive.read(stored["previous/上年考核结果.xlsx"]) == (tmp_path / "上年考核结果.xlsx").read_bytes()
        assert len([n for n in stored if n.startswith("outputs/通报/") and n.endswith(".docx")]) == 6
        record = json.loads(archive.read(stored["record.json"]))
    assert record["figures"]["values"]["鼓楼区"]["6-1"] == 3
    assert any(f["name"] == "收件箱/开发处.eml › kfc.xlsx" for f in record["figures"]["files"])
    checked = assess_xl("verify", tmp_path / "封存.zip", env=FOREIGN)
    assert checked.returncode == 0 and checked.stdout.strip().endswith("一致"), checked.stdout
    bag = unpacked_copy(tmp_path / "封存.zip", tmp_path / "改")
    adjustments = bag / "data" / "adjustments" / "调整表.xlsx"
    data = bytearray(adjustments.read_bytes())
    data[len(data) // 3] ^= 0x01
    adjustments.write_bytes(bytes(data))
    changed = assess_xl("verify", bag)
    assert changed.returncode == 1
    assert "文件被改动 data/adjustments/调整表.xlsx：内容与清单不符（已被改动）" in changed.stdout


def test_zone_without_tz_or_zoneinfo_link_is_the_offset_as_tz_reads_it(monkeypatch):
    from assess_xl import seal as seal_module
    monkeypatch.delenv("TZ", raising=False)
    monkeypatch.setattr(seal_module.os, "readlink", lambda path: (_ for _ in ()).throw(OSError()))
    zone = seal_module.local_zone()
    offset = datetime.now().astimezone().utcoffset()
    probe = subprocess.run([sys.executable, "-c", "import datetime; print(datetime.datetime.now().astimezone().utcoffset())"],
                           env={**os.environ, "TZ": zone}, capture_output=True, text=True, check=True)
    assert re.fullmatch(r"<[+-]\d{4}>[+-]\d\d:\d\d", zone) and probe.stdout.strip() == str(offset)
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    assert seal_module.local_zone() == "Asia/Shanghai"
