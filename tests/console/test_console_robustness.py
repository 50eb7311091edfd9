"""排名稳健性 in the console: the same rows as the scorecard's sheet of the same run, in Chinese, linked
from the results and each district's page."""
import html
import io
import re

import openpyxl
import pytest

from assess_xl.rules import load as rulebook
from console.fixtures import CSRF_QUERY, settle

pytestmark = pytest.mark.usefixtures("private_config")


@pytest.fixture
def filled(client, year, demo_returns):
    files = [("files", (p.name, p.read_bytes())) for p in demo_returns]
    settle(client, client.post(f"/inbox/upload?{CSRF_QUERY}", files=files))
    return year


def sheet_rows(content: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True)["排名稳健性"]
    return [list(row) for row in sheet.iter_rows(min_row=2, values_only=True) if any(row)]


def cells(page: str, table: str) -> list[list[str]]:
    body = page[page.index(f'class="robustness {table}'):]
    body = body[:body.index("</table>")]
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S) if "<td" in row]


def test_the_page_shows_the_scorecard_sheets_rows(client, filled):
    page = client.get("/results/robustness")
    assert page.status_code == 200 and "<h1>排名稳健性</h1>" in page.text
    result = client.app.state.console.run()
    sheet = sheet_rows(result.content)  # the sheet of the same run, as written into the scorecard
    pairs = [row for row in sheet if row[0] == "相邻名次"]
    assert len(pairs) == 5  # six demo districts
    shown = cells(page.text, "pairs")
    assert shown == [[str(r[1]), r[2], r[3], f"{r[4]:g}", r[5] or "", r[6]] for r in pairs]
    assert any(row[5].startswith("若") and "名" in row[5] for row in shown)  # a smallest change, in words
    missing = [row[6] for row in sheet if row[0] == "缺报可能改变名次"]
    assert all(html.escape(text, quote=False) in page.text for text in missing)
    assert f"缺报可能改变名次的区（{len(missing)}项）" in page.text


def test_the_page_is_linked_from_the_results_and_each_district(client, filled):
    assert 'href="/results/robustness"' in client.get("/results").text
    assert 'href="/results/robustness"' in client.get("/results/district/玄武区").text


def test_an_alternative_reading_is_shown_with_the_districts_that_move(client, filled, year):
    """A rulebook with an `alternatives:` entry: the page lists the ranking under it, as the sheet does."""
    text = rulebook.embedded_rulebook_path().read_text(encoding="utf-8")
    text += ("\nalternatives:\n- name: 目标2按分值6分折算\n  target: 2\n  note: 细则各项合计5分而分值为6分\n"
             "  scoring:\n    2-1: [{kind: award, points: 2.4}]\n    2-2: [{kind: award, points: 2.4}]\n"
             "    2-3: [{kind: award, points: 1.2}]\n")
    taken = client.post(f"/settings/rulebook?{CSRF_QUERY}", files={"rulebook": ("细则.yaml", text.encode("utf-8"))})
    assert "已采用评分细则" in taken.text
    page = settle(client, client.get("/results/robustness"))
    sheet = sheet_rows(client.app.state.console.run().content)
    label = "另一种解读：目标2按分值6分折算"
    assert f"<h2>{label}</h2>" in page.text
    expected = [[str(r[1]), r[2], r[6]] for r in sheet if r[0] == label and r[1]]
    assert cells(page.text, "alternative") == expected and len(expected) == 6


def test_before_any_return_the_page_says_what_to_do(client, year):
    page = settle(client, client.get("/results/robustness"))
    assert page.url.path == "/results/robustness" and "还没有考核结果" in page.text
