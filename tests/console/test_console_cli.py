"""The console and the year folder through the real `assess-xl` entry point."""
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import openpyxl
import pytest

from assess_xl import demo
from assess_xl import year as year_module

ASSESS_XL = str(Path(sys.executable).with_name("assess-xl"))

pytestmark = pytest.mark.usefixtures("private_config")


def start_console(*args, env=None):
    process = subprocess.Popen([ASSESS_XL, "console", *args, "--no-browser"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    first = process.stdout.readline().strip()
    return process, first


def test_console_prints_its_url_first_serves_it_and_ends_cleanly_on_ctrl_c(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    process, url = start_console(str(tmp_path / "2008年考核"), "--port", "0", env=env)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{20,}", url), url
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        page = opener.open(url, timeout=30).read().decode("utf-8")
        assert "考核控制台" in page and '<meta name="renderer" content="webkit">' in page
        try:
            urllib.request.urlopen(url.split("?")[0] + "settings", timeout=30)
            raise AssertionError("a request without the token was served")
        except urllib.error.HTTPError as refused:
            assert refused.code == 403
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "考核控制台已关闭" in out and "Traceback" not in err
    assert year_module.is_year(tmp_path / "2008年考核")  # a missing folder became a new year


def test_console_refuses_a_folder_that_is_not_a_year_and_a_busy_port(tmp_path):
    (tmp_path / "杂物").mkdir()
    (tmp_path / "杂物" / "a.txt").write_text("x")
    refused = subprocess.run([ASSESS_XL, "console", str(tmp_path / "杂物"), "--no-browser"], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 2 and "不是年度文件夹" in refused.stderr and "Traceback" not in refused.stderr
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    process, url = start_console(str(tmp_path / "y"), "--port", "0", env=env)
    try:
        port = url.split(":")[2].split("/")[0]
        busy = subprocess.run([ASSESS_XL, "console", str(tmp_path / "y"), "--port", port, "--no-browser"],
                              capture_output=True, text=True, timeout=60, env=env)
        assert busy.returncode == 2 and f"端口{port}已被占用" in busy.stderr
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def test_collect_finds_everything_in_a_year_folder(tmp_path, demo_returns):
    year = year_module.create(tmp_path / "2007年考核", year_module.Settings(issuer="某某市环境保护局"),
                              demo.sample_districts())
    for path in demo_returns:
        shutil.copy(path, year.inbox / path.name)
    done = subprocess.run([ASSESS_XL, "collect", str(year.root)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr  # the demo's returns hold errors
    assert year.scorecard_path.is_file() and "考核结果已写入" in done.stdout
    summary = openpyxl.load_workbook(year.scorecard_path)["汇总"]
    assert "某某市环境保护局" in str(summary["A2"].value)


def test_collect_on_a_year_folder_waits_then_refuses_while_the_console_writes(tmp_path, demo_returns):
    year = year_module.create(tmp_path / "y", districts=demo.sample_districts())
    shutil.copy(demo_returns[0], year.inbox / demo_returns[0].name)
    with year_module.locked(year, "控制台：发布考核结果"):
        busy = subprocess.run([ASSESS_XL, "collect", str(year.root)], capture_output=True, text=True, timeout=300)
    assert busy.returncode == 2 and "正在被另一个操作使用" in busy.stderr and "控制台：发布考核结果" in busy.stderr
    assert not year.scorecard_path.exists()


def test_collect_without_output_and_without_a_year_folder_says_what_is_missing(tmp_path):
    done = subprocess.run([ASSESS_XL, "collect", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "缺少选项 -o/--output" in done.stderr
