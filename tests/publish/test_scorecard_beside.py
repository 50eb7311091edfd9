"""The scorecard written on two cores (a forked child writes a share of the district sheets): the same
workbook as one process writes, through the real command line and in the library; a child that dies or
fails leaves the scorecard to this process; no process or file is left behind."""
import io
import os
import re
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from assess_xl import pipeline
from assess_xl.demo import fill_workbook
from assess_xl.publish import scorecard as report
from assess_xl.xlsx import childsheets
from helpers import gone, write_forms
from conftest import typed_best

PROBE = Path(__file__).parent.parent / "data" / "child_probe"
DISTRICTS = [f"第{n}区" for n in range(1, report.FORK_FROM + 7)]
TIME = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


@pytest.fixture(scope="module")
def inbox(book, tmp_path_factory):
    """A year just large enough to be written on two cores: every district reports its best, but each
    has its own count of violating approvals (6-1), and the two last leave 14-1 blank (缺报)."""
    tmp = tmp_path_factory.mktemp("beside")
    blank = write_forms(book, DISTRICTS, tmp / "forms")
    entries: dict = {}
    for code, indicator in book.indicators.items():
        entries.setdefault(indicator.department, {})[code] = {d: typed_best(indicator) for d in DISTRICTS}
    entries["开发处"]["6-1"] = {d: str(n % 4) for n, d in enumerate(DISTRICTS)}
    for district in DISTRICTS[-2:]:
        entries["监察室"]["14-1"][district] = ""
    folder = tmp / "inbox"
    folder.mkdir()
    fill_workbook(blank["全部"], folder / "全部.xlsx", entries)
    return folder


def collect(inbox: Path, out: Path, log: Path, *before: str, dies: bool = False) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "assess-xl"
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(PROBE), "ASSESS_XL_TEST_CHILD_LOG": str(log),
           "TMPDIR": str(out.parent / "tmp")}
    if dies:
        env["ASSESS_XL_TEST_CHILD_DIES"] = "1"
    (out.parent / "tmp").mkdir(exist_ok=True)
    return subprocess.run([*before, str(exe), "collect", str(inbox), "-o", str(out)], capture_output=True,
                          text=True, timeout=600, env=env)


def parts(content: bytes) -> dict[str, bytes]:
    """Every part of a workbook, the run's time taken out (it is read from the clock once per run)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: TIME.sub(b"TIME", archive.read(name)) for name in archive.namelist()}


def children(log: Path) -> list[int]:
    return [int(line) for line in log.read_text(encoding="ascii").split()] if log.exists() else []


@pytest.fixture(scope="module")
def runs(inbox, tmp_path_factory):
    """`assess-xl collect` on two cores, on one core (taskset), and with its child killed as it starts."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two cores")
    out = {}
    for name, before, dies in (("two", (), False), ("one", ("taskset", "-c", "0"), False), ("dies", (), True)):
        folder = tmp_path_factory.mktemp(name)
        run = collect(inbox, folder / "考核结果.xlsx", folder / "children.log", *before, dies=dies)
        out[name] = (run, folder)
    return out


def test_cli_writes_district_sheets_on_the_other_core(runs):
    run, folder = runs["two"]
    assert run.returncode == 1, run.stdout + run.stderr  # written, with 缺报
    pids = children(folder / "children.log")
    assert len(pids) == 1 and all(gone(pid) for pid in pids)
    assert children(runs["one"][1] / "children.log") == []  # one core: no child


def test_cli_scorecard_and_output_the_same_on_one_core_and_when_the_child_dies(runs):
    two, one, dies = (runs[name] for name in ("two", "one", "dies"))
    written = {name: parts((folder / "考核结果.xlsx").read_bytes()) for name, (_, folder) in runs.items()}
    assert written["two"] == written["one"] == written["dies"]
    said = {name: run.stdout.replace(str(folder), "FOLDER") for name, (run, folder) in runs.items()}
    assert said["two"] == said["one"] == said["dies"] and two[0].returncode == dies[0].returncode
    assert len(children(dies[1] / "children.log")) == 1 and all(gone(p) for p in children(dies[1] / "children.log"))


def test_cli_leaves_no_file_behind(runs):
    for _, folder in runs.values():
        assert list((folder / "tmp").iterdir()) == []
        assert {p.name for p in folder.iterdir()} - {"children.log"} == {"tmp", "考核结果.xlsx"}


@pytest.fixture(scope="module")
def year(inbox, book, runs):
    """The year collected in this process, compared with last year's scorecard (the two-core run's)."""
    previous = (runs["two"][1] / "考核结果.xlsx").read_bytes()
    options = pipeline.CollectOptions(generated=datetime(2008, 1, 5, 9, 30), previous=previous)
    return pipeline.collect([inbox], book, options)


@pytest.fixture
def child_forks(monkeypatch) -> None:
    """The child forked whatever else the machine is running meanwhile (skipped where it cannot be)."""
    if not childsheets.can_fork():
        pytest.skip("needs fork, two cores and no other thread in this process")
    monkeypatch.setattr(childsheets, "other_core_idle", lambda: True)


@pytest.fixture
def child_fails(monkeypatch, child_forks) -> None:
    """The forked child fails (MemoryError) as it writes its first district sheet; this process writes as usual."""
    parent, write = os.getpid(), report._write_district

    def fails_in_child(ws, *args):
        if os.getpid() != parent:
            raise MemoryError
        write(ws, *args)

    monkeypatch.setattr(report, "_write_district", fails_in_child)


def one_process(book, result) -> bytes:
    return report._build(book, result.scores, result.explanations, result.read, result.generated, None,
                         result.comparison, result.robustness, 0.0)


def test_library_scorecard_with_last_year_same_bytes_as_one_process(year, book, monkeypatch, child_forks):
    forked = []
    fork = childsheets._fork
    monkeypatch.setattr(childsheets, "_fork", lambda *args: forked.append(fork(*args)))
    content = report.build(book, year.scores, year.explanations, year.read, year.generated, None,
                           year.comparison, year.robustness)
    assert forked and year.comparison is not None
    assert content == one_process(book, year)


def test_library_robustness_worked_out_while_the_child_writes(year, book, monkeypatch, child_forks):
    """排名稳健性 given as a function: called once, after the child is forked, and the same bytes as given worked out."""
    events = []
    fork = childsheets._fork
    monkeypatch.setattr(childsheets, "_fork", lambda *args: events.append(("forked", fork(*args))))

    def robustness():
        events.append(("robustness", os.getpid()))
        return year.robustness

    content = report.build(book, year.scores, year.explanations, year.read, year.generated, None,
                           year.comparison, robustness)
    assert [event for event, _ in events] == ["forked", "robustness"] and events[1][1] == os.getpid()
    assert content == one_process(book, year)


def test_library_robustness_function_called_once_when_the_child_fails(year, book, monkeypatch, child_fails):
    calls = []
    content = report.build(book, year.scores, year.explanations, year.read, year.generated, None,
                           year.comparison, lambda: calls.append(1) or year.robustness)
    monkeypatch.undo()
    assert calls == [1] and content == one_process(book, year)


def test_collect_keeps_the_robustness_the_scorecard_shows(year):
    """pipeline.collect hands the scorecard a function and keeps what it worked out."""
    assert year.robustness is not None and year.robustness.pairs


def test_library_child_failing_leaves_the_scorecard_to_this_process(year, book, monkeypatch, child_fails):
    content = report.build(book, year.scores, year.explanations, year.read, year.generated, None,
                           year.comparison, year.robustness)
    monkeypatch.undo()
    assert content == one_process(book, year)


REAL_NAMES = ["高新区（东区）", "高新区（西区）", "经济技术开发区·北区", "桥西区", "第一区/第二区合并片区",
              "长江新区临空港经济技术开发区管理委员会社会事务局辖区"] + [f"第{n}区" for n in range(1, report.FORK_FROM)]


def test_library_real_district_names_same_bytes_as_one_process(book, tmp_path, monkeypatch, child_forks):
    """Names as districts are named (full-width brackets, a middle dot, a slash a sheet name cannot hold, one
    longer than a sheet name may be): the sheets the child writes, their names, print areas and links to them
    are those of one process."""
    blank = write_forms(book, REAL_NAMES, tmp_path / "forms")
    entries: dict = {}
    for code, indicator in book.indicators.items():
        entries.setdefault(indicator.department, {})[code] = {d: typed_best(indicator) for d in REAL_NAMES}
    entries["开发处"]["6-1"] = {d: str(n % 3) for n, d in enumerate(REAL_NAMES)}
    (tmp_path / "inbox").mkdir()
    fill_workbook(blank["全部"], tmp_path / "inbox" / "全部.xlsx", entries)
    result = pipeline.collect([tmp_path / "inbox"], book, pipeline.CollectOptions(generated=datetime(2008, 1, 5)))
    assert sorted(result.scores.districts) == sorted(REAL_NAMES)
    forked = []
    fork = childsheets._fork
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(childsheets, "_fork", lambda *args: forked.append(fork(*args)))
        content = report.build(book, result.scores, result.explanations, result.read, result.generated, None,
                               result.comparison, result.robustness)
    assert forked
    assert content == one_process(book, result)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        workbook_xml = archive.read("xl/workbook.xml").decode()
    assert "高新区（东区）" in workbook_xml and "经济技术开发区·北区" in workbook_xml


def test_what_the_child_measured_is_kept_for_the_next_run(book, tmp_path, monkeypatch, child_forks):
    """The child leaves without the exit handlers that keep the widths measured: it keeps them itself, so that
    the next run measures nothing for the sheets the child wrote. Each district has a count of its own, which
    only its sheet shows."""
    from assess_xl.xlsx import printfit, textwidths
    names = [f"第{n}区" for n in range(1, report.FORK_FROM + 5)]
    blank = write_forms(book, names, tmp_path / "forms")
    entries: dict = {}
    for code, indicator in book.indicators.items():
        entries.setdefault(indicator.department, {})[code] = {d: typed_best(indicator) for d in names}
    entries["开发处"]["6-1"] = {d: str(100 + 7 * n) for n, d in enumerate(names)}
    (tmp_path / "inbox").mkdir()
    fill_workbook(blank["全部"], tmp_path / "inbox" / "全部.xlsx", entries)
    result = pipeline.collect([tmp_path / "inbox"], book, pipeline.CollectOptions(generated=datetime(2008, 1, 5)))

    def afresh() -> None:
        textwidths.forget()
        printfit.forget()

    log = tmp_path / "measured.log"
    font = textwidths.Face.font

    def logged(face):
        with log.open("a") as out:
            out.write(f"{os.getpid()}\n")
        return font(face)

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(textwidths.Face, "font", logged)
    afresh()
    forked = []
    fork = childsheets._fork
    monkeypatch.setattr(childsheets, "_fork", lambda *args: forked.append(fork(*args)))
    content = report.build(book, result.scores, result.explanations, result.read, result.generated, None,
                           result.comparison, result.robustness)
    textwidths.save()  # this process's own, as at its exit
    assert forked and str(os.getpid()) in log.read_text().split()
    assert set(log.read_text().split()) - {str(os.getpid())}  # the child measured too
    log.unlink()
    afresh()
    assert one_process(book, result) == content
    assert not log.exists()  # nothing measured: every width came from the cache
    monkeypatch.undo()
    afresh()
