"""Shared by the console's tests (loaded as a plugin by tests/conftest.py): a year folder, the demo's filled
returns, a client past the guard. Test modules here mark themselves with `usefixtures("private_config")`."""
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from assess_xl import demo

from assess_xl.publish import forms
from assess_xl import year as year_module
from assess_xl.console.app import create_app
from assess_xl.console.guard import Secrets

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
KEYS = Secrets("test-token", "test-csrf")
CSRF_QUERY = f"csrf={KEYS.csrf}"


@pytest.fixture
def private_config(tmp_path, monkeypatch):
    """The list of recent years goes to a private folder, never the user's own."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def fill_demo_returns(book, folder: Path) -> list[Path]:
    """The demo's returns, one file per department, filled as people type (with the demo's errors)."""
    blank = folder / "blank"
    blank.mkdir(parents=True, exist_ok=True)
    for form in forms.build_forms(book, demo.sample_districts()):
        (blank / form.name).write_bytes(form.content)
    paths = []
    for department, codes in demo.sample_entries(book).items():
        target = folder / f"{department}-已填.xlsx"
        demo.fill_workbook(blank / forms.file_name(book, department), target, {department: codes})
        paths.append(target)
    return paths


@pytest.fixture(scope="session")
def demo_returns(tmp_path_factory, book) -> list[Path]:
    return fill_demo_returns(book, tmp_path_factory.mktemp("returns"))


@pytest.fixture
def year(tmp_path):
    return year_module.create(tmp_path / "2007年考核", year_module.Settings(issuer="测试市环境保护局"),
                              demo.sample_districts())


@pytest.fixture
def app(year):
    return create_app(year, PORT, KEYS)


@pytest.fixture
def client(app):
    with TestClient(app, base_url=BASE) as client:
        client.get(f"/start?token={KEYS.token}")
        yield client


def settle(client, response):
    """Past a job's progress page: wait for the job, then the page it leads to."""
    console = client.app.state.console
    if "/jobs/" not in str(response.url):
        return response
    console.jobs.wait()
    job = console.jobs.running
    assert not job.failed, job.lines
    return client.get(job.then)


def flashes(response) -> list[str]:
    import re
    return re.findall(r'class="flash [a-z]+"[^>]*>([^<]*)<', response.text)
