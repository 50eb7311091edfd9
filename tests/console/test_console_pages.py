"""Every page and action of the console through Starlette's test client, on a real year folder with the
demo's returns: what the coordinator sees and what lands in the folder."""
import io
import re
import zipfile

import openpyxl
import pytest
from starlette.testclient import TestClient

from assess_xl import demo

from assess_xl.rules import load as rulebook
from assess_xl import year as year_module
from assess_xl.console.app import create_app
from console.fixtures import BASE, KEYS, PORT, settle
from helpers import requires_soffice

CSRF = f"csrf={KEYS.csrf}"

pytestmark = pytest.mark.usefixtures("private_config")


def upload(client, paths, extra=()):
    files = [("files", (p.name, p.read_bytes())) for p in paths] + list(extra)
    return settle(client, client.post(f"/inbox/upload?{CSRF}", files=files))


@pytest.fixture
def filled(client, year, demo_returns):
    """The year with the demo's returns and a broken file uploaded and read."""
    upload(client, demo_returns, [("files", ("坏了的表.xlsx", b"PK\x03\x04 broken"))])
    return year


# ---- start ------------------------------------------------------------------------------------------

@pytest.fixture
def bare_client(tmp_path):
    app = create_app(None, PORT, KEYS)
    with TestClient(app, base_url=BASE) as client:
        client.get(f"/?token={KEYS.token}")
        yield client


def test_without_a_year_the_console_offers_to_create_or_open_one(bare_client, tmp_path):
    page = bare_client.get("/status")
    assert page.url.path == "/start" and "新建年度文件夹" in page.text and "打开年度文件夹" in page.text
    created = bare_client.post(f"/start/create?{CSRF}", data={"folder": str(tmp_path / "2008年考核"),
                                                              "issuer": "某局", "districts": "甲区、乙区"})
    assert created.url.path == "/settings" and "已新建年度文件夹" in created.text
    year = year_module.open_year(tmp_path / "2008年考核")
    assert year.districts() == ["甲区", "乙区"] and year.settings()[0].issuer == "某局"
    assert str(year.root) in bare_client.get("/start").text  # now among the recent years


def test_open_a_recent_year_and_refuse_a_folder_that_is_none(bare_client, tmp_path):
    existing = year_module.create(tmp_path / "旧年度")
    opened = bare_client.post(f"/start/open?{CSRF}", data={"folder": str(existing.root)})
    assert opened.url.path == "/settings" and "已打开年度文件夹" in opened.text
    (tmp_path / "杂物").mkdir()
    refused = bare_client.post(f"/start/open?{CSRF}", data={"folder": str(tmp_path / "杂物")})
    assert refused.url.path == "/start" and "不是年度文件夹" in refused.text


def test_a_new_year_with_unusable_district_names_is_refused(bare_client, tmp_path):
    refused = bare_client.post(f"/start/create?{CSRF}", data={"folder": str(tmp_path / "新"),
                                                              "districts": "甲区\n汇总\n甲区"})
    assert "汇总" in refused.text and "重复" in refused.text
    assert not (tmp_path / "新").exists()


# ---- settings ---------------------------------------------------------------------------------------

def test_settings_page_shows_rulebook_check_districts_and_contacts(client):
    page = client.get("/settings")
    assert "2007年度" in page.text and "条警告" in page.text and "雨花台区" in page.text
    assert page.text.count('name="emails-') == 14 and "密码不保存" in page.text


def test_general_settings_are_saved_and_never_a_password(client, year):
    client.post(f"/settings/general?{CSRF}", data={"issuer": "某某市环境保护局", "deadline": "1月15日",
                                                   "smtp_user": "zhc", "password": "secret"})
    settings, _ = year.settings()
    assert settings.issuer == "某某市环境保护局" and settings.deadline == "1月15日" and settings.smtp_user == "zhc"
    assert "secret" not in year.settings_path.read_text(encoding="utf-8")


def test_district_list_saved_with_the_forms_name_rules(client, year):
    saved = client.post(f"/settings/districts?{CSRF}", data={"districts": "玄武区\n高新区（虎丘区）\n"})
    assert "区名单已保存（2个区）" in saved.text and year.districts() == ["玄武区", "高新区（虎丘区）"]
    refused = client.post(f"/settings/districts?{CSRF}", data={"districts": "玄武区\n高新区(虎丘区)\n高新区（虎丘区）"})
    assert "只差全角/半角" in refused.text and year.districts() == ["玄武区", "高新区（虎丘区）"]


def test_a_rulebook_upload_is_checked_then_becomes_the_years(client, year):
    embedded = rulebook.embedded_rulebook_path().read_bytes()
    broken = client.post(f"/settings/rulebook?{CSRF}", files={"rulebook": ("2008.yaml", b"year: [")})
    assert "2008.yaml第2行：YAML格式错误" in broken.text and year.rulebook_path is None
    assert "assess-xl-rules" not in broken.text  # no temporary path shown
    wrong_kind = client.post(f"/settings/rulebook?{CSRF}", files={"rulebook": ("2008.txt", embedded)})
    assert ".yaml" in wrong_kind.text and year.rulebook_path is None
    taken = client.post(f"/settings/rulebook?{CSRF}", files={"rulebook": ("2008.yaml",
                                                                          embedded.replace(b"year: 2007", b"year: 2008"))})
    assert "已采用评分细则" in taken.text and year.rulebook_path.name == "评分细则.yaml"
    assert "2008年度" in client.get("/settings").text
    back = client.post(f"/settings/rulebook/embedded?{CSRF}")
    assert "内置" in back.text and year.rulebook_path is None


def test_contacts_edited_in_the_table_and_uploaded(client, year):
    book = rulebook.load()
    fields = {"person-0": "王芳", "emails-0": "bgs@hbj.gov.cn; wf@hbj.gov.cn", "emails-1": "不是邮箱"}
    saved = client.post(f"/settings/contacts?{CSRF}", data=fields)
    assert "综合处的邮箱“不是邮箱”无效" in saved.text and "1个部门有邮箱" in saved.text
    contacts, _ = year_module.read_contacts(year.contacts_path, book)
    assert contacts["办公室"].addresses == ("bgs@hbj.gov.cn", "wf@hbj.gov.cn") and contacts["办公室"].person == "王芳"
    csv = "部门,联系人,邮箱\n环监局,李明,hjj@hbj.gov.cn\n".encode("utf-8-sig")
    imported = client.post(f"/settings/contacts/upload?{CSRF}", files={"contacts": ("通讯录.csv", csv)})
    assert "通讯录已导入（1个部门有邮箱）" in imported.text
    assert set(year_module.read_contacts(year.contacts_path, book)[0]) == {"环监局"}


# ---- forms ------------------------------------------------------------------------------------------

def test_forms_generated_listed_and_downloaded_one_or_all(client, year):
    page = settle(client, client.post(f"/forms/generate?{CSRF}"))
    assert page.url.path == "/forms"
    names = [p.name for p in year.listing("forms")]
    assert len(names) == 15 and "2007年度目标考核填报表-全部部门.xlsx" in names and names[0] in page.text
    one = client.get("/files/forms/2007年度目标考核填报表-环监局.xlsx")
    assert "环监局" in openpyxl.load_workbook(io.BytesIO(one.content)).sheetnames
    archive = zipfile.ZipFile(io.BytesIO(client.get("/forms/all.zip").content))
    assert sorted(archive.namelist()) == sorted(names)


def test_forms_need_a_district_list(client, year):
    year.districts_path.unlink()
    assert "还没有区名单" in client.get("/forms").text


# ---- inbox ------------------------------------------------------------------------------------------

def test_uploads_stored_under_safe_names_and_every_file_gets_a_verdict(client, year, demo_returns):
    page = upload(client, demo_returns[:2], [("files", ("../../逃出去.xlsx", b"not a workbook")),
                                             ("files", (".隐藏.xlsx", b"hidden?")),
                                             ("files", ("C:\\Users\\x\\环监局.xlsx", b"\x00" * 10))])
    stored = {p.name for p in year.listing("inbox")}
    assert {"逃出去.xlsx", "隐藏.xlsx", "环监局.xlsx", demo_returns[0].name} <= stored
    assert not (year.root.parent / "逃出去.xlsx").exists()
    assert page.url.path == "/inbox"
    assert page.text.count("已读取") >= 2 and "已拒绝" in page.text
    assert "不是Excel工作簿" in page.text  # the verdict of the text file, as in 来源


def test_the_same_upload_twice_is_stored_once(client, year, demo_returns):
    upload(client, demo_returns[:1])
    again = upload(client, [demo_returns[0]])
    assert len(year.listing("inbox")) == 1 and "未重复保存" in again.text


def far_cell(source: bytes) -> bytes:
    """A workbook with a cell at XFD1048576 (which makes the parser abort a whole process)."""
    original, out = zipfile.ZipFile(io.BytesIO(source)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')
            archive.writestr(info, data)
    return out.getvalue()


def test_a_hostile_upload_is_a_verdict_not_a_crash(client, year, demo_returns):
    page = upload(client, [], [("files", ("远处的单元格.xlsx", far_cell(demo_returns[0].read_bytes())))])
    assert page.status_code == 200 and "远处的单元格.xlsx" in page.text and "已拒绝" in page.text


def test_reading_again_shows_progress_then_the_verdicts(client, filled):
    response = client.post(f"/inbox/read?{CSRF}")
    assert "/jobs/" in str(response.url) and "读取收件箱" in response.text
    assert settle(client, response).url.path == "/inbox"


def test_progress_arrives_as_server_sent_events(client, filled):
    response = client.post(f"/inbox/read?{CSRF}", follow_redirects=False)
    job_id = response.headers["location"].rsplit("/", 1)[1]
    client.app.state.console.jobs.wait()
    stream = client.get(f"/jobs/{job_id}/events")
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert "data: 正在读取收件箱中的文件" in stream.text and "event: done\ndata: /inbox" in stream.text


# ---- the status board ---------------------------------------------------------------------------------

def test_status_board_in_colour_and_words_with_counts(client, filled):
    page = client.get("/status")
    board = page.text[page.text.index('class="board"'):]
    cells = re.findall(r'<td class="state (none|fix|owed|done|adjusted)"[^>]*>\S+ (未交|有错待改|缺报|齐全|已调整)</td>',
                       board)
    assert len(cells) == 14 * 6
    assert {word for _, word in cells} >= {"有错待改", "齐全"}
    pairs = {"none": "未交", "fix": "有错待改", "owed": "缺报", "done": "齐全", "adjusted": "已调整"}
    assert all(pairs[css] == word for css, word in cells)
    assert "催报" in page.text and "退回修改" in page.text


def test_reminders_need_a_sender_and_contacts_then_are_drafts_to_download(client, filled):
    refused = client.get("/status/remind")
    assert refused.url.path == "/status" and "请在“设置”页填写发件人" in refused.text
    client.post(f"/settings/general?{CSRF}", data={"sender": "市环保局综合处 <zhc@hbj.gov.cn>", "deadline": "1月20日"})
    settle(client, client.get("/status"))  # the settings changed: the board is read again
    refused = client.get("/status/remind")
    assert refused.url.path == "/status" and "通讯录" in refused.text
    book = rulebook.load()
    client.post(f"/settings/contacts?{CSRF}",
                data={f"emails-{n}": f"郑华 <d{n}@hbj.gov.cn>" for n in range(len(book.departments))})
    assert "郑华 &lt;d0@hbj.gov.cn&gt;" in client.get("/settings").text
    settle(client, client.get("/status"))
    every = client.get("/status/remind")
    assert every.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(every.content)).namelist()
    assert names and all(n.startswith("催报-") and n.endswith(".eml") for n in names)
    department = names[0][3:-4]
    one = client.get("/status/remind", params={"department": department})
    assert one.headers["content-type"].startswith("message/rfc822") and b"X-Unsent: 1" in one.content
    assert b"zhc@hbj.gov.cn" in one.content


def test_return_copies_for_one_department_or_all_that_owe(client, filled):
    every = client.get("/status/returns")
    names = zipfile.ZipFile(io.BytesIO(every.content)).namelist()
    assert names and all(n.endswith("-退回修改.xlsx") for n in names)
    department = names[0].split("-")[1]
    one = client.get("/status/returns", params={"department": department})
    assert openpyxl.load_workbook(io.BytesIO(one.content)).sheetnames[0] == "退回说明"
    nobody = client.get("/status/returns", params={"department": "不存在的部门"})
    assert nobody.url.path == "/status"


# ---- problems -----------------------------------------------------------------------------------------

def test_problems_filtered_by_level_district_and_department(client, filled):
    every = client.get("/problems")
    total = int(re.search(r"共 (\d+) 条问题", every.text).group(1))
    assert total > 0
    errors = client.get("/problems", params={"level": "错误"})
    levels = re.findall(r'<tr class="level-(\w+)">', errors.text)
    assert levels and set(levels) == {"error"}
    one = client.get("/problems", params={"district": "玄武区"})
    rows = re.findall(r"<tr class=\"level-\w+\">(.*?)</tr>", one.text, re.S)
    assert rows and all("<td>玄武区</td>" in row for row in rows)
    partial = client.get("/problems", params={"department": "环监局"}, headers={"hx-request": "true"})
    assert "<html" not in partial.text and "符合条件" in partial.text


# ---- adjustments ------------------------------------------------------------------------------------

def test_an_adjustment_is_validated_stored_in_the_workbook_and_applied(client, filled):
    bad = client.post(f"/adjust/change?{CSRF}", data={"district": "玄武区", "code": "6-1", "value": "很多",
                                                      "reason": "复核"})
    assert "不能采用" in bad.text and not filled.adjustments_path.exists()
    no_reason = client.post(f"/adjust/change?{CSRF}", data={"district": "玄武区", "code": "6-1", "value": "2"})
    assert "没有写调整理由" in no_reason.text and not filled.adjustments_path.exists()
    good = client.post(f"/adjust/change?{CSRF}", data={"district": "玄武区", "code": "6-1", "value": "2",
                                                       "reason": "复核意见第3号", "by": "张三"})
    good = settle(client, good)
    assert "已记入调整表" in good.text
    sheet = openpyxl.load_workbook(filled.adjustments_path)["调整"]
    assert [c.value for c in sheet[2]][:5] == ["玄武区", "6-1", "2", "复核意见第3号", "张三"]
    assert "已生效（1项）" in good.text
    board = client.get("/status").text
    assert "已调整" in board[board.index('class="board"'):]


def test_a_file_excluded_with_a_reason(client, filled):
    no_reason = client.post(f"/adjust/exclude?{CSRF}", data={"file": "坏了的表.xlsx"})
    assert "理由" in no_reason.text and not filled.adjustments_path.exists()
    done = settle(client, client.post(f"/adjust/exclude?{CSRF}", data={"file": "坏了的表.xlsx", "reason": "误发"}))
    assert "排除的文件（1个）" in done.text
    assert "按调整表排除：误发" in client.get("/inbox").text


# ---- results ------------------------------------------------------------------------------------------

def test_results_rank_chart_and_provisional_mark(client, filled):
    page = client.get("/results")
    assert "暂定结果" in page.text and "<svg" in page.text
    districts = demo.sample_districts()
    assert all(f">{d}</a>" in page.text for d in districts)


def test_a_district_page_explains_every_target(client, filled):
    book = rulebook.load()
    page = client.get("/results/district/玄武区")
    assert page.status_code == 200
    assert page.text.count('<td class="num">') >= len(book.targets)
    assert all(f"{c.number} {c.name}" in page.text for c in book.categories)


def test_last_years_scorecard_adds_the_comparison(client, filled):
    from assess_xl import yearwork
    result = yearwork.run(filled, rulebook.load())
    filled.previous_path.write_bytes(result.content)
    page = settle(client, client.get("/results"))
    assert "上年总分" in page.text and "上年排名" in page.text


# ---- publish --------------------------------------------------------------------------------------------

def test_publish_without_libreoffice_says_how_to_install_it(client, filled, monkeypatch):
    from assess_xl.publish import documents as publish
    monkeypatch.setattr(publish, "soffice_path", lambda: None)
    page = client.get("/publish")
    assert "apt-get install libreoffice-calc-nogui" in page.text
    done = settle(client, client.post(f"/publish/run?{CSRF}"))
    assert done.url.path == "/publish"
    assert filled.scorecard_path.is_file() and len(filled.listing("notices")) == 6
    assert not filled.pdf_path.exists()
    assert "PDF未生成" in " ".join(client.app.state.console.jobs.running.lines)


@requires_soffice
def test_publish_writes_scorecard_notices_and_pdf(client, filled):
    done = settle(client, client.post(f"/publish/run?{CSRF}"))
    assert filled.pdf_path.read_bytes().startswith(b"%PDF")
    assert "考核结果.pdf" in done.text and "考核结果.xlsx" in done.text
    assert client.get("/files/results/考核结果.pdf").content.startswith(b"%PDF")
    notice = filled.listing("notices")[0].name
    assert client.get(f"/files/notices/{notice}").status_code == 200


def test_nothing_to_publish_before_returns_arrive(client, year):
    page = settle(client, client.get("/publish"))
    assert "还没有可以发布" in page.text
    refused = client.post(f"/publish/run?{CSRF}")
    assert "还没有可以发布" in refused.text and not year.scorecard_path.exists()


# ---- rules ---------------------------------------------------------------------------------------------

def test_rules_check_diff_and_replay(client, filled):
    page = client.get("/rules")
    assert "检查当前细则" in page.text and "指纹" in page.text
    newer = rulebook.embedded_rulebook_path().read_bytes().replace(b"year: 2007", b"year: 2008")
    diff = client.post(f"/rules/diff?{CSRF}", files={"rulebook": ("2008.yaml", newer)})
    assert re.search(r"处变化", diff.text) and "年度" in diff.text
    replay = settle(client, client.post(f"/rules/replay?{CSRF}", files={"rulebook": ("2008.yaml", newer)}))
    assert replay.url.path == "/rules" and "影响分析" in replay.text
    assert (filled.results_dir / "影响分析.xlsx").is_file()


def test_every_page_carries_the_renderer_meta_and_the_nav(client, filled):
    for path in ("/settings", "/forms", "/inbox", "/status", "/problems", "/adjust", "/results", "/publish", "/rules"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert '<meta name="renderer" content="webkit">' in page.text
        assert 'aria-current="page"' in page.text and "/static/htmx.min.js" in page.text


# ---- two writers ------------------------------------------------------------------------------------

def test_a_second_tab_waits_for_the_running_job(client, year, monkeypatch):
    """One job at a time: an action asked for while another runs shows that one and says so."""
    import threading

    from assess_xl import yearwork
    release = threading.Event()
    real_run = yearwork.run

    def slow_run(*args, **kwargs):
        release.wait(30)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(yearwork, "run", slow_run)
    first = client.post(f"/inbox/read?{CSRF}", follow_redirects=False)
    second = client.post(f"/forms/generate?{CSRF}")
    assert second.url.path == first.headers["location"] and "“读取收件箱”正在进行" in second.text
    release.set()
    client.app.state.console.jobs.wait()
    assert not year.listing("forms")  # the second action was not done behind the coordinator's back


def test_a_change_while_the_command_line_writes_is_refused_with_a_message(client, year, monkeypatch):
    from assess_xl import yearwork
    monkeypatch.setattr(yearwork, "LOCK_WAIT", 0.2)
    before = year.settings_path.read_bytes()
    with year_module.locked(year, "命令行 collect"):
        page = client.post(f"/settings/general?{CSRF}", data={"issuer": "别人"})
    assert "正在被另一个操作使用" in page.text and "命令行 collect" in page.text
    assert year.settings_path.read_bytes() == before
