"""The console's gate: token, Host, CSRF, body size, and no name reaching outside the year's folder."""
import pytest
from starlette.testclient import TestClient

from console.fixtures import BASE, KEYS, PORT, settle

pytestmark = pytest.mark.usefixtures("private_config")


def test_without_the_token_every_request_is_refused(app):
    bare = TestClient(app, base_url=BASE)
    for path in ("/", "/status", "/settings", "/static/htmx.min.js", "/files/forms/x.xlsx", "/jobs/1/events"):
        response = bare.get(path, follow_redirects=False)
        assert response.status_code == 403, path
        assert "需要凭据" in response.text and "token=" in response.text


def test_a_wrong_token_is_refused_and_sets_no_cookie(app):
    bare = TestClient(app, base_url=BASE)
    response = bare.get("/?token=guess", follow_redirects=False)
    assert response.status_code == 403 and "set-cookie" not in response.headers
    assert bare.get("/settings", follow_redirects=False).status_code == 403


def test_the_token_becomes_a_strict_http_only_cookie_and_leaves_the_address(app):
    bare = TestClient(app, base_url=BASE)
    response = bare.get(f"/settings?token={KEYS.token}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/settings"
    cookie = response.headers["set-cookie"]
    assert f"assess_xl_{PORT}={KEYS.token}" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert bare.get("/settings").status_code == 200


@pytest.mark.parametrize("host", ["evil.example", f"127.0.0.1:{PORT + 1}", "127.0.0.1", f"attacker.cn:{PORT}"])
def test_a_foreign_host_header_is_refused_even_with_the_cookie(client, host):
    """DNS rebinding: a page on another name resolving to 127.0.0.1 carries its own Host."""
    response = client.get("/settings", headers={"host": host})
    assert response.status_code == 403 and "主机名" in response.text
    assert client.get("/settings", headers={"host": f"localhost:{PORT}"}).status_code == 200


def test_changes_without_the_csrf_token_are_refused(client, year):
    before = year.settings_path.read_bytes()
    for path in ("/settings/general", "/forms/generate", "/inbox/upload", "/adjust/change", "/publish/run",
                 "/settings/rulebook/embedded", "/start/create"):
        response = client.post(path, data={"issuer": "别人"}, follow_redirects=False)
        assert response.status_code == 403 and "页面已过期" in response.text, path
        response = client.post(f"{path}?csrf=wrong", data={"issuer": "别人"}, follow_redirects=False)
        assert response.status_code == 403, path
    assert year.settings_path.read_bytes() == before
    assert not year.listing("forms")


def test_a_change_from_another_origin_is_refused_even_with_the_csrf_token(client, year):
    response = client.post(f"/settings/general?csrf={KEYS.csrf}", data={"issuer": "别人"},
                           headers={"origin": "http://evil.example"}, follow_redirects=False)
    assert response.status_code == 403
    assert "别人" not in year.settings_path.read_text(encoding="utf-8")


def test_the_csrf_token_is_accepted_as_header_or_query(client, year):
    response = client.post("/settings/general", data={"issuer": "甲局"}, headers={"x-csrf-token": KEYS.csrf},
                           follow_redirects=False)
    assert response.status_code == 303
    response = client.post(f"/settings/general?csrf={KEYS.csrf}", data={"issuer": "乙局"},
                           headers={"origin": BASE}, follow_redirects=False)
    assert response.status_code == 303
    assert "发文单位: 乙局" in year.settings_path.read_text(encoding="utf-8")


def test_every_response_forbids_framing_and_foreign_scripts(client):
    response = client.get("/settings")
    assert response.headers["x-frame-options"] == "DENY"
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'self' covers scripts
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "same-origin"


def test_an_upload_over_the_limit_is_refused_before_it_is_stored(client, year, monkeypatch):
    from assess_xl.console import guard
    middleware = client.app.middleware_stack
    while not isinstance(middleware, guard.Guard):
        middleware = middleware.app
    monkeypatch.setattr(middleware, "body_limit", 10_000)
    response = client.post(f"/inbox/upload?csrf={KEYS.csrf}", files={"files": ("大.xlsx", b"x" * 20_000)})
    assert response.status_code == 413 and "分批上传" in response.text
    assert year.listing("inbox") == []


def test_one_file_over_the_per_file_limit_is_refused_the_others_stored(client, year, monkeypatch):
    from assess_xl import yearwork
    monkeypatch.setattr(yearwork, "UPLOAD_FILE_LIMIT_MB", 0.01)
    response = settle(client, client.post(f"/inbox/upload?csrf={KEYS.csrf}",
                                          files=[("files", ("大.xlsx", b"x" * 20_000)),
                                                 ("files", ("小.xlsx", b"not a workbook"))]))
    assert [p.name for p in year.listing("inbox")] == ["小.xlsx"]
    assert "“大.xlsx”超过" in response.text


def test_too_many_files_at_once_are_refused(client, year, monkeypatch):
    from assess_xl import yearwork
    monkeypatch.setattr(yearwork, "UPLOAD_COUNT_LIMIT", 2)
    files = [("files", (f"{n}.xlsx", b"x")) for n in range(3)]
    response = settle(client, client.post(f"/inbox/upload?csrf={KEYS.csrf}", files=files))
    assert "一次最多上传2个文件" in response.text
    assert year.listing("inbox") == []


@pytest.mark.parametrize("name", ["../设置.yaml", "..%2F设置.yaml", "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "..",
                                  "sub%2Fx.xlsx", "%00", ".assess-xl.lock", "~$x.xlsx"])
@pytest.mark.parametrize("area", ["forms", "inbox", "results", "notices", "outbox", "returns"])
def test_no_file_name_reaches_outside_its_area(client, year, area, name):
    (year.inbox / "sub").mkdir()
    (year.inbox / "sub" / "x.xlsx").write_bytes(b"secret")
    (year.forms_dir / "~$x.xlsx").write_bytes(b"lock")
    response = client.get(f"/files/{area}/{name}")
    assert response.status_code == 404
    assert b"secret" not in response.content and "发文单位" not in response.text


@pytest.mark.parametrize("area", ["..", "root", "%2E%2E", "settings"])
def test_no_area_other_than_the_year_folders(client, year, area):
    response = client.get(f"/files/{area}/设置.yaml")
    assert response.status_code == 404 and "发文单位" not in response.text


def test_a_listed_file_is_served(client, year):
    (year.forms_dir / "甲.xlsx").write_bytes(b"content")
    response = client.get("/files/forms/甲.xlsx")
    assert response.status_code == 200 and response.content == b"content"
    assert "filename*=utf-8''%E7%94%B2.xlsx" in response.headers["content-disposition"]


@pytest.mark.parametrize("name", ["../../设置", "..%2F..%2F设置.yaml", "不存在的区"])
def test_a_district_page_only_for_a_district_of_the_run(client, year, demo_returns, name):
    for path in demo_returns:
        (year.inbox / path.name).write_bytes(path.read_bytes())
    settle(client, client.get("/results"))
    response = client.get(f"/results/district/{name}")
    assert response.status_code == 404 and "发文单位" not in response.text


def test_an_unknown_job_is_not_found(client):
    assert client.get("/jobs/../../etc").status_code == 404
    assert client.get("/jobs/0123456789abcdef").status_code == 404
    assert client.get("/jobs/0123456789abcdef/events").status_code == 404
