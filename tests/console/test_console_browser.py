"""The whole demo year through the console in a real browser (Debian's Chromium driven by Playwright):
create the year, generate forms, download them, return them filled (one file broken), see the board,
filter problems, add an adjustment, publish, download the scorecard and check its totals equal those
of `assess-xl collect` on the same inputs. Screenshots of every page are saved (to
$ASSESS_XL_SCREENSHOTS when set, else the test's own folder)."""
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from assess_xl import demo

from assess_xl.rules import load as rulebook

pytestmark = pytest.mark.usefixtures("private_config")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ASSESS_XL = str(Path(sys.executable).with_name("assess-xl"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None

needs_browser = pytest.mark.skipif((CHROMIUM is None or sync_playwright is None) and os.environ.get("CI") != "true",
                                   reason="Chromium (apt-get install chromium) or Playwright is missing; "
                                          ".ci/run installs both")


@pytest.fixture
def server(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    process = subprocess.Popen([ASSESS_XL, "console", "--port", "0", "--no-browser"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    url = process.stdout.readline().strip()
    yield url
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in err, err


@pytest.fixture
def page(tmp_path):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True, locale="zh-CN")
        yield context.new_page()
        browser.close()


def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("ASSESS_XL_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def download(page, selector: str, folder: Path) -> Path:
    with page.expect_download() as started:
        page.click(selector)
    target = folder / started.value.suggested_filename
    started.value.save_as(target)
    return target


def fill_returns(book, forms_zip: Path, folder: Path) -> list[Path]:
    """Each department fills its own copy, as the demo's people do; one more file arrives broken."""
    blank = folder / "blank"
    zipfile.ZipFile(forms_zip).extractall(blank)
    returned = []
    for department, codes in demo.sample_entries(book).items():
        target = folder / f"{department}-已填.xlsx"
        demo.fill_workbook(blank / f"{book.year}年度目标考核填报表-{department}.xlsx", target, {department: codes})
        returned.append(target)
    broken = folder / "传坏了的表.xlsx"
    broken.write_bytes(returned[0].read_bytes()[:3000])
    return [*returned, broken]


def totals(workbook: Path) -> dict[str, float]:
    sheet = openpyxl.load_workbook(workbook, data_only=True)["汇总"]
    rows = list(sheet.iter_rows(values_only=True))
    header = next(i for i, row in enumerate(rows) if row and row[0] == "区")
    column = rows[header].index("总分")
    return {row[0]: row[column] for row in rows[header + 1:] if row and row[0] and isinstance(row[column], float | int)}


@needs_browser
def test_the_whole_demo_year_through_the_console(server, page, tmp_path):
    book = rulebook.load()
    pictures, work = shots(tmp_path), tmp_path / "work"
    work.mkdir()
    page.goto(server)
    expect(page.locator("h1")).to_have_text("开始")
    page.screenshot(path=str(pictures / "console-start.png"), full_page=True)

    # create the year
    folder = tmp_path / "2007年考核"
    page.fill("input[name=folder] >> nth=0", str(folder))
    page.fill("input[name=issuer]", "某某市环境保护局")
    page.fill("textarea[name=districts]", "\n".join(demo.sample_districts()))
    page.click("button:has-text('新建')")
    page.wait_for_url("**/settings")
    expect(page.locator(".flash.ok")).to_contain_text("已新建年度文件夹")
    page.screenshot(path=str(pictures / "console-settings.png"), full_page=True)

    # forms: generate (progress by server-sent events), then download all
    page.click("nav >> text=填报表")
    page.click("button:has-text('生成填报表')")
    page.wait_for_url("**/forms", timeout=120_000)
    expect(page.locator("ul.files li")).to_have_count(15)
    page.screenshot(path=str(pictures / "console-forms.png"), full_page=True)
    forms_zip = download(page, "text=全部下载（zip）", work)

    # the departments return their forms; upload them, one broken
    returned = fill_returns(book, forms_zip, work / "returned")
    page.click("nav >> text=收件")
    page.wait_for_url("**/inbox", timeout=120_000)
    page.set_input_files("input[name=files]", [str(p) for p in returned])
    page.click("button:has-text('上传并读取')")
    page.wait_for_url("**/inbox", timeout=180_000)
    broken_row = page.locator("table.sources tr", has_text="传坏了的表.xlsx")
    expect(broken_row).to_contain_text("已拒绝")
    page.screenshot(path=str(pictures / "console-inbox.png"), full_page=True)

    # the board, in colour and words
    page.click("nav >> text=进度")
    page.wait_for_url("**/status")
    expect(page.locator("table.board td.state")).to_have_count(14 * 6)
    expect(page.locator("table.board")).to_contain_text("有错待改")
    page.screenshot(path=str(pictures / "console-status.png"), full_page=False)
    page.screenshot(path=str(pictures / "console-status-full.png"), full_page=True)
    printed = work / "进度.pdf"
    page.pdf(path=str(printed), format="A4", landscape=True)  # as the browser prints it
    if shutil.which("pdftotext") or os.environ.get("CI") == "true":  # CI installs poppler-utils: the check runs
        text = subprocess.run(["pdftotext", str(printed), "-"], capture_output=True, text=True).stdout
        assert "环监局" in text and "有错待改" in text
        assert "切换年度" not in text and "给所有欠报的部门催报" not in text  # no navigation, no buttons

    # problems, filtered by htmx
    page.click("nav >> text=问题")
    page.wait_for_url("**/problems")  # loaded, htmx with it: a choice made earlier, under load, sent nothing
    page.select_option("select[name=level]", "错误")
    page.wait_for_url(re.compile(r".*/problems\?.*level=%E9%94%99%E8%AF%AF"))  # htmx swapped the table in
    levels = page.locator("table.problems tbody tr td:first-child").all_inner_texts()
    assert levels and set(levels) == {"错误"}
    page.screenshot(path=str(pictures / "console-problems.png"), full_page=True)

    # an adjustment, validated and stored in 调整表.xlsx
    page.click("nav >> text=调整")
    page.wait_for_url("**/adjust", timeout=120_000)
    bool_code = next(code for code, indicator in book.indicators.items() if indicator.type == "bool")
    page.select_option("select[name=district]", "玄武区")
    page.select_option("select[name=code]", bool_code)
    page.fill("input[name=value]", "是")
    page.fill("input[name=reason]", "复核意见（环考〔2008〕3号）")
    page.fill("input[name=by]", "张三")
    page.click("button:has-text('记入调整表')")
    page.wait_for_url("**/adjust", timeout=120_000)
    expect(page.locator("body")).to_contain_text("已生效（1项）")
    page.screenshot(path=str(pictures / "console-adjust.png"), full_page=True)

    # results and one district's page
    page.click("nav >> text=结果")
    expect(page.locator("svg.bars rect")).to_have_count(6)
    expect(page.locator(".provisional")).to_contain_text("暂定结果")
    page.screenshot(path=str(pictures / "console-results.png"), full_page=True)
    page.click("table.ranking >> text=玄武区")
    expect(page.locator("table.explain")).to_contain_text("经复核调整")
    page.screenshot(path=str(pictures / "console-district.png"), full_page=False)

    # prints without the navigation
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    page.emulate_media(media="screen")

    # publish, download the scorecard, compare with collect on the same inputs
    page.click("nav >> text=发布")
    page.click("button:has-text('发布')")
    page.wait_for_url("**/publish", timeout=300_000)
    expect(page.locator("ul.files").first).to_contain_text("考核结果.xlsx")
    page.screenshot(path=str(pictures / "console-publish.png"), full_page=True)
    scorecard = download(page, "a:has-text('考核结果.xlsx')", work)
    other = work / "collect.xlsx"
    subprocess.run([ASSESS_XL, "collect", str(folder / "收件箱"), "-o", str(other), "--districts",
                    str(folder / "区名单.txt"), "--adjustments", str(folder / "调整表.xlsx"),
                    "--issuer", "某某市环境保护局"], capture_output=True, timeout=300)
    assert totals(scorecard) == totals(other) and len(totals(other)) == 6

    page.click("nav >> text=细则")
    expect(page.locator("h1")).to_have_text("细则")
    page.screenshot(path=str(pictures / "console-rules.png"), full_page=True)
    assert len(list(pictures.glob("console-*.png"))) >= 11


@pytest.fixture
def mail_year(tmp_path, book):
    """A year with the demo's returns in its inbox, every department an address and an SMTP server
    (aiosmtpd on 127.0.0.1, asking for a password) in its settings."""
    from assess_xl import year as year_module
    from console.fixtures import fill_demo_returns
    from smtp_servers import Collector, Running, password_check
    check = password_check("zhc", "pw-2008")
    server = Running(Collector(), **check)
    folder = year_module.create(tmp_path / "2007年考核", year_module.Settings(
        issuer="某某市环境保护局", deadline="1月20日", sender="市环保局综合处 <zhc@hbj.gov.cn>",
        smtp_server=server.address, smtp_user="zhc"), demo.sample_districts())
    for path in fill_demo_returns(book, tmp_path / "returned"):
        (folder.inbox / path.name).write_bytes(path.read_bytes())
    rows = "部门,联系人,邮箱\n" + "".join(f"{d},,d{n}@hbj.gov.cn\n" for n, d in enumerate(book.departments))
    (tmp_path / "通讯录.csv").write_text(rows, encoding="utf-8")
    from assess_xl import yearwork
    yearwork.save_contacts(folder, book, year_module.read_contacts(tmp_path / "通讯录.csv", book)[0])
    yield folder, server, check["authenticator"].tried
    server.stop()


@pytest.fixture
def year_server(tmp_path, mail_year):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    process = subprocess.Popen([ASSESS_XL, "console", str(mail_year[0].root), "--port", "0", "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    yield process.stdout.readline().strip()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in err, err


@needs_browser
def test_status_board_to_a_reminder_sent_by_smtp(year_server, mail_year, page, tmp_path):
    """进度 → 催报 for one department → the password typed → sent: the server got it, the log says so."""
    folder, server, passwords = mail_year
    pictures = shots(tmp_path)
    page.goto(year_server)
    page.wait_for_url("**/status", timeout=180_000)
    row = page.locator("table.departments tbody tr", has=page.locator("a:has-text('催报')")).first
    department = row.locator("th").inner_text()
    row.locator("a:has-text('催报')").click()
    page.wait_for_url("**/mail/remind?department=*")
    expect(page.locator("table.mail")).to_contain_text(f"【催报】2007年度目标考核填报（{department}）")
    page.fill("input[name=password]", "pw-2008")
    page.screenshot(path=str(pictures / "console-mail.png"), full_page=True)
    page.click("button:has-text('通过SMTP发送')")
    page.wait_for_url("**/mail/remind?department=*", timeout=120_000)
    expect(page.locator(".flash.ok")).to_contain_text("已发送1封邮件。")
    expect(page.locator("table.sendlog")).to_contain_text("已发送")
    expect(page.locator("table.mail")).to_contain_text("已发送过（见发送记录），不会重发")
    page.screenshot(path=str(pictures / "console-mail-sent.png"), full_page=True)
    assert len(server.handler.received) == 1 and passwords == ["pw-2008"]
    assert "pw-2008" not in folder.settings_path.read_text(encoding="utf-8")

    page.goto(year_server.split("?")[0].rstrip("/") + "/results/robustness")  # (the cookie is set)
    expect(page.locator("table.robustness.pairs tbody tr")).to_have_count(5)
    page.screenshot(path=str(pictures / "console-robustness.png"), full_page=True)


@needs_browser
def test_inbox_fetches_from_the_mailbox_with_the_password_typed(tmp_path, book, page):
    """收件 → the password typed → 收取邮件: Dovecot's message is saved, then read, its verdict shown."""
    from assess_xl import year as year_module
    from console.fixtures import fill_demo_returns
    from dovecot import DOVECOT, append, running_dovecot
    from fakeimap import message
    if DOVECOT is None and os.environ.get("CI") != "true":
        pytest.skip("Dovecot (dovecot-imapd) is not installed; .ci/run installs it")
    returned = fill_demo_returns(book, tmp_path / "returned")[0]
    pictures = shots(tmp_path)
    with running_dovecot() as port:
        append(port, message(returned.read_bytes(), "填报", "Mon, 07 Jan 2008 09:00:00 +0800", "<a@x>", returned.name))
        folder = year_module.create(tmp_path / "2007年考核", year_module.Settings(
            imap_host=f"127.0.0.1:{port}", imap_security="plain", imap_user="zhc"), demo.sample_districts())
        env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
        process = subprocess.Popen([ASSESS_XL, "console", str(folder.root), "--port", "0", "--no-browser"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            url = process.stdout.readline().strip()
            page.goto(url.split("?")[0].rstrip("/") + "/inbox?" + url.split("?")[1])
            page.wait_for_url("**/inbox", timeout=120_000)
            page.fill("input[name=password]", "secret")
            page.screenshot(path=str(pictures / "console-inbox-fetch.png"), full_page=True)
            page.click("button:has-text('收取邮件')")
            page.wait_for_url("**/jobs/*")
            page.wait_for_url("**/inbox", timeout=180_000)
            expect(page.locator(".flash.ok").first).to_contain_text("收到1封带工作簿的新邮件")
            expect(page.locator("table.sources tr", has_text=returned.name)).to_contain_text("已读取")
            page.screenshot(path=str(pictures / "console-inbox-fetched.png"), full_page=True)
        finally:
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=30)
        assert process.returncode == 0 and "Traceback" not in err, err
        assert len(list(folder.inbox.glob("*.eml"))) == 1
