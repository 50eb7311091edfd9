"""The year's folder: layout, settings without passwords, the lock, recent years, names inside areas."""
import multiprocessing
import time

import pytest

from assess_xl import year as year_module
from assess_xl.year import Settings, YearError

pytestmark = pytest.mark.usefixtures("private_config")


def test_a_new_year_has_its_folders_settings_and_district_list(tmp_path):
    year = year_module.create(tmp_path / "2008年考核", Settings(issuer="某市环保局", deadline="1月15日"),
                              ["玄武区", "高新区（虎丘区）"])
    for folder in ("填报表", "收件箱", "发件箱", "结果"):
        assert (year.root / folder).is_dir()
    assert year.settings()[0] == Settings(issuer="某市环保局", deadline="1月15日")
    assert year.districts() == ["玄武区", "高新区（虎丘区）"]
    assert year.rulebook_path is None  # the embedded rulebook until one is put there
    assert year_module.is_year(year.root)


def test_a_folder_holding_other_files_is_not_made_a_year(tmp_path):
    (tmp_path / "别的").mkdir()
    (tmp_path / "别的" / "文件.txt").write_text("x")
    with pytest.raises(YearError) as refused:
        year_module.create(tmp_path / "别的")
    assert "不是空文件夹" in str(refused.value)
    with pytest.raises(YearError) as refused:
        year_module.open_year(tmp_path / "别的")
    assert "不是年度文件夹" in str(refused.value) and "设置.yaml" in str(refused.value)


def test_settings_never_hold_a_password(tmp_path):
    year = year_module.create(tmp_path / "y", Settings(smtp_user="zhc", imap_user="zhc"))
    text = year.settings_path.read_text(encoding="utf-8")
    assert "密码" not in text.split("\n", 1)[1] and "password" not in text.lower()
    year.settings_path.write_text(text + "SMTP密码: 123456\npassword: 123456\n", encoding="utf-8")
    settings, problems = year.settings()
    assert "123456" not in repr(settings) and not problems
    assert (settings.smtp_user, settings.imap_user) == ("zhc", "zhc")  # the file read is the one written


def test_settings_a_person_broke_are_read_as_defaults_with_a_warning(tmp_path):
    year = year_module.create(tmp_path / "y")
    year.settings_path.write_text("发文单位: [没有闭合\n", encoding="utf-8")
    settings, problems = year.settings()
    assert settings == Settings() and "格式不正确" in problems[0].message


def test_the_district_list_file_is_what_forms_districts_reads(tmp_path):
    """One list for both faces: the CLI's --districts 区名单.txt reads the file the console writes."""
    from assess_xl.year import parse_districts
    year = year_module.create(tmp_path / "y", districts=["玄武区", "高新区 (虎丘区)"])
    assert parse_districts(str(year.districts_path)) == ["玄武区", "高新区 (虎丘区)"]


def _hold(root, seconds):
    with year_module.locked(year_module.Year(root), "测试中的另一个程序"):
        time.sleep(seconds)


def test_a_second_writer_is_refused_with_what_holds_the_lock(tmp_path):
    year = year_module.create(tmp_path / "y")
    holder = multiprocessing.get_context("spawn").Process(target=_hold, args=(year.root, 3))
    holder.start()
    try:
        deadline = time.monotonic() + 10
        while "测试中的另一个程序" not in (year.lock_path.read_text(encoding="utf-8") if year.lock_path.exists() else ""):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(YearError) as refused:
            with year_module.locked(year, "第二个"):
                pass
        assert "正在被另一个操作使用" in str(refused.value) and "测试中的另一个程序" in str(refused.value)
        started = time.monotonic()
        with year_module.locked(year, "等待的", wait=10):  # waits until the holder is done
            assert time.monotonic() - started > 1
            assert "等待的" in year.lock_path.read_text(encoding="utf-8")
    finally:
        holder.join()


def test_two_holders_in_one_process_exclude_each_other(tmp_path):
    """Two tabs of the console are two requests in one process: they too must not interleave."""
    year = year_module.create(tmp_path / "y")
    with year_module.locked(year, "第一个"):
        with pytest.raises(YearError):
            with year_module.locked(year, "第二个"):
                pass
    with year_module.locked(year, "之后"):
        pass


def test_recent_years_newest_first_and_only_those_still_there(tmp_path):
    first = year_module.create(tmp_path / "a")
    second = year_module.create(tmp_path / "b")
    year_module.open_year(first.root)
    assert year_module.recent()[:2] == [first.root, second.root]
    (second.root / "设置.yaml").unlink()
    assert second.root not in year_module.recent()


def test_a_file_is_found_only_by_its_exact_name_in_its_area(tmp_path):
    year = year_module.create(tmp_path / "y")
    (year.forms_dir / "表.xlsx").write_bytes(b"x")
    assert year.file_in("forms", "表.xlsx") == year.forms_dir / "表.xlsx"
    for area, name in [("forms", "../设置.yaml"), ("forms", "表.XLSX"), ("inbox", "表.xlsx"), ("..", "设置.yaml"),
                       ("forms", str(year.forms_dir / "表.xlsx"))]:
        with pytest.raises(YearError):
            year.file_in(area, name)


def test_a_symlink_out_of_an_area_is_not_served(tmp_path):
    year = year_module.create(tmp_path / "y")
    (tmp_path / "secret.txt").write_text("secret")
    (year.forms_dir / "链接.xlsx").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(YearError):
        year.file_in("forms", "链接.xlsx")
