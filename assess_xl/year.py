"""The year's folder: one folder per assessment year, made of ordinary files that the command line, the
console and Excel all open. It says where the rulebook, the district list, the contacts, the forms, the
inbox, the outbox and its send log, the adjustments and the results live; holds a small settings file
(issuer, deadline, mail servers and users — never a password); and a lock, so that two runs on one
folder (two browser tabs, or the console and a command) never interleave their writes."""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from assess_xl.problems import Code
from assess_xl import demo

from assess_xl import files

from assess_xl.xlsx import ownbooks

from assess_xl import problems as P
from assess_xl.rules import load as rulebook_load
from assess_xl.run_options import CollectOptions
from assess_xl.problems import Problem
from assess_xl.rules.model import Rulebook
from assess_xl.xlsx.layout import district_name_problems, split_district_names

if TYPE_CHECKING:
    from assess_xl.publish import outbox  # imported by read_contacts: a plain collect writes no mail

SETTINGS_FILE = "设置.yaml"
RULEBOOK_FILES = ("评分细则.yaml", "评分细则.yml", "评分细则.xlsx")
DISTRICTS_FILE = "区名单.txt"
CONTACTS_FILE = "通讯录.xlsx"
ADJUSTMENTS_FILE = "调整表.xlsx"
PREVIOUS_FILE = "上年考核结果.xlsx"
FORMS, INBOX, OUTBOX, RESULTS = "填报表", "收件箱", "发件箱", "结果"
SEND_LOG = "发送记录.csv"
SCORECARD, PDF, NOTICES, RETURNS = "考核结果.xlsx", "考核结果.pdf", "通报", "退回修改"
LOCK_FILE = ".assess-xl.lock"
RECENT_LIMIT = 10


class YearError(P.AssessError):
    """The folder cannot be used as asked; `problem` says why and what to do."""


# ---- settings -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """What the coordinator sets once a year. Never a password: those are asked each time."""
    issuer: str = ""
    deadline: str = ""
    sender: str = ""
    smtp_server: str = ""
    smtp_security: str = ""  # "", "ssl" or "starttls"
    smtp_user: str = ""
    imap_host: str = ""
    imap_security: str = "ssl"
    imap_user: str = ""
    imap_folder: str = "INBOX"


# The settings file is read by people too: its keys are Chinese.
SETTING_KEYS = {"issuer": "发文单位", "deadline": "截止日期", "sender": "发件人", "smtp_server": "SMTP服务器",
                "smtp_security": "SMTP连接方式", "smtp_user": "SMTP用户名", "imap_host": "IMAP服务器",
                "imap_security": "IMAP连接方式", "imap_user": "IMAP用户名", "imap_folder": "IMAP文件夹"}


def settings_text(settings: Settings) -> str:
    import yaml  # here: a run without a year folder needs no PyYAML (the rulebook's parse is kept, rules.parsed)
    data = {SETTING_KEYS[name]: value for name, value in asdict(settings).items()}
    return ("# assess-xl 年度设置（不保存任何密码：发送和收取邮件时每次询问）\n"
            + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000))


def parse_settings(text: str, where: str) -> tuple[Settings, list[Problem]]:
    """Known keys only, each as text; anything else (a password someone typed in) is ignored."""
    import yaml
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        return Settings(), [P.make(Code.YEAR_SETTINGS_INVALID, where=where, reason=type(exc).__name__)]
    if not isinstance(data, dict):
        return Settings(), [P.make(Code.YEAR_SETTINGS_INVALID, where=where, reason="不是“键: 值”的列表")]
    by_key = {key: name for name, key in SETTING_KEYS.items()}
    given = {by_key[key]: "" if value is None else str(value).strip() for key, value in data.items() if key in by_key}
    return Settings(**given), []


# ---- the folder ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Year:
    """Where everything of one year lives. Paths only: reading and writing go through the library."""
    root: Path

    @property
    def settings_path(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def rulebook_path(self) -> Path | None:
        """The year's own rulebook, or None for the embedded one."""
        return next((self.root / name for name in RULEBOOK_FILES if (self.root / name).is_file()), None)

    @property
    def districts_path(self) -> Path:
        return self.root / DISTRICTS_FILE

    @property
    def contacts_path(self) -> Path:
        return self.root / CONTACTS_FILE

    @property
    def adjustments_path(self) -> Path:
        return self.root / ADJUSTMENTS_FILE

    @property
    def previous_path(self) -> Path:
        return self.root / PREVIOUS_FILE

    @property
    def forms_dir(self) -> Path:
        return self.root / FORMS

    @property
    def inbox(self) -> Path:
        return self.root / INBOX

    @property
    def outbox(self) -> Path:
        return self.root / OUTBOX

    @property
    def send_log(self) -> Path:
        return self.outbox / SEND_LOG

    @property
    def results_dir(self) -> Path:
        return self.root / RESULTS

    @property
    def scorecard_path(self) -> Path:
        return self.results_dir / SCORECARD

    @property
    def pdf_path(self) -> Path:
        return self.results_dir / PDF

    @property
    def notices_dir(self) -> Path:
        return self.results_dir / NOTICES

    @property
    def returns_dir(self) -> Path:
        return self.results_dir / RETURNS

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_FILE

    def areas(self) -> dict[str, Path]:
        """The folders whose files may be listed and downloaded, by a short ASCII key."""
        return {"forms": self.forms_dir, "inbox": self.inbox, "outbox": self.outbox, "results": self.results_dir,
                "notices": self.notices_dir, "returns": self.returns_dir}

    def settings(self) -> tuple[Settings, list[Problem]]:
        if not self.settings_path.is_file():
            return Settings(), []
        return parse_settings(self.settings_path.read_text(encoding="utf-8-sig"), str(self.settings_path))

    def districts(self) -> list[str] | None:
        """The year's district list (区名单.txt, one per line), or None when it has none yet."""
        if not self.districts_path.is_file():
            return None
        return demo.read_district_list(self.districts_path.read_text(encoding="utf-8-sig")) or None

    def rulebook(self) -> Rulebook:
        """The year's rulebook (raises rulebook.RulebookError when it cannot be used)."""
        return rulebook_load.load(self.rulebook_path)

    def listing(self, area: str) -> list[Path]:
        """The files of one area, as the file system has them (no hidden or temporary files)."""
        folder = self.areas().get(area)
        if folder is None or not folder.is_dir():
            return []
        return sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "~$"))),
                      key=lambda p: p.name)

    def file_in(self, area: str, name: str) -> Path:
        """A file of an area, chosen by its exact name among the area's own files: a name holding a
        path, `..`, or anything not listed there is refused, so no name reaches outside the folder."""
        for path in self.listing(area):
            if path.name == name and path.resolve().parent == self.areas()[area].resolve():
                return path
        raise YearError(P.make(Code.PATH_OUTSIDE_YEAR, name=name, area=area))


def is_year(folder: Path) -> bool:
    return (folder / SETTINGS_FILE).is_file()


def open_year(folder: str | Path) -> Year:
    path = Path(folder).expanduser().resolve()
    if not is_year(path):
        raise YearError(P.make(Code.YEAR_NOT_A_YEAR, where=str(path), settings=SETTINGS_FILE))
    remember(path)
    return Year(path)


def given_year(paths: Sequence[str | Path]) -> Year | None:
    """The year, when the only path given is a year's folder (`collect 2008年考核/`)."""
    if len(paths) != 1 or not is_year(Path(paths[0])):
        return None
    return Year(Path(paths[0]).resolve())


def open_or_create(folder: str | Path) -> Year:
    """The year in this folder; a new one when the folder does not exist or is empty."""
    path = Path(folder).expanduser()
    if path.is_dir() and not is_year(path) and not any(path.iterdir()) or not path.exists():
        return create(path)
    return open_year(path)


def create(folder: str | Path, settings: Settings | None = None, districts: list[str] | None = None) -> Year:
    """A new year's folder with its sub-folders and settings; the embedded rulebook until one is put there."""
    path = Path(folder).expanduser().resolve()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise YearError(P.make(Code.YEAR_EXISTS, where=str(path)))
    year = Year(path)
    written = [(year.settings_path, settings_text(settings or Settings()).encode("utf-8"))]
    if districts:
        written.append((year.districts_path, districts_text(districts)))
    write(written)
    for folder_path in (year.forms_dir, year.inbox, year.outbox, year.results_dir):
        folder_path.mkdir(parents=True, exist_ok=True)
    remember(path)
    return year


def parse_districts(spec: str) -> list[str]:
    """`--districts`: a file (one district per line, UTF-8 with or without BOM) or a list separated by
    commas, 顿号 or semicolons (names may then hold spaces), or else by spaces. Every name is checked as
    forms would check it; YearError says why a list cannot be used."""
    path = Path(spec)
    try:
        is_file = path.is_file()
    except OSError:  # a long list is not a file name
        is_file = False
    if is_file:
        try:
            names = demo.read_district_list(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError:
            raise YearError(P.make(Code.DISTRICTS_NOT_UTF8, path=str(path))) from None
    else:
        names = split_district_names(spec)
    problems = district_name_problems(names)
    if problems:
        raise YearError(P.make(Code.DISTRICTS_UNUSABLE, reasons="\n".join(problem.message for problem in problems)))
    return names


def districts_text(names: list[str]) -> bytes:
    """区名单.txt as `--districts 区名单.txt` reads it: UTF-8 with a BOM (Notepad shows it right), one per line."""
    return ("\ufeff" + "".join(f"{name}\n" for name in names)).encode("utf-8")


def write(written: list[tuple[Path, bytes]]) -> None:
    """Atomic writing (files.write_files), failures as YearError."""
    try:
        files.write_files(written)
    except files.WriteError as exc:
        raise YearError(exc.problem) from None


def with_setting(settings: Settings, **changes: str) -> Settings:
    known = {f.name for f in fields(Settings)}
    return replace(settings, **{k: v.strip() for k, v in changes.items() if k in known})


# ---- contacts -----------------------------------------------------------------------------------

def read_contacts(path: Path, book: Rulebook) -> tuple[dict[str, outbox.Contact], list[P.Problem]]:
    """The contacts workbook (or .csv): department → contact, and the problems of rows left out."""
    from assess_xl.publish import outbox
    sheet = None
    try:
        if path.suffix.lower() == ".csv":
            rows = outbox.csv_rows(path.read_text(encoding="utf-8-sig"))
        else:
            sheets = ownbooks.read(path, path.name)
            sheet, rows = next(((s.name, s.rows) for s in sheets.values()), (None, []))
    except ownbooks.OwnWorkbookError as exc:
        raise YearError(P.make(Code.CONTACTS_UNREADABLE, path=str(path), reason=exc.problem.message.rstrip("。"))) from None
    except (OSError, UnicodeDecodeError) as exc:  # a .csv that cannot be read or decoded
        reason = "不是UTF-8编码的文本" if isinstance(exc, UnicodeDecodeError) else "文件无法打开"
        raise YearError(P.make(Code.CONTACTS_UNREADABLE, path=str(path), reason=reason)) from None
    return outbox.read_contacts(rows, book, path.name, sheet)


def known_senders(contacts: dict[str, outbox.Contact]) -> frozenset[str]:
    return frozenset(departments_by_address(contacts))


def departments_by_address(contacts: dict[str, outbox.Contact]) -> dict[str, str]:
    """address (lower case) → department, for the names of fetched messages."""
    return {address.lower(): contact.department for contact in contacts.values() for address in contact.addresses}


# ---- one run's options, the same for the command line and the console -----------------------------

def collect_options(year: Year, book: Rulebook, now: datetime | None = None) -> CollectOptions:
    """What `collect 年度文件夹/` and the console read: the year's districts, adjustments, contacts,
    last year's scorecard when present, and the issuer of its settings; the scorecard goes to 结果/."""
    settings, _ = year.settings()
    options = CollectOptions(districts=year.districts(), output=year.scorecard_path,
                             generated=now or datetime.now().replace(microsecond=0),
                             issuer=settings.issuer or None)
    if year.adjustments_path.is_file():
        options.adjustments, options.adjustments_name = year.adjustments_path.read_bytes(), ADJUSTMENTS_FILE
    if year.previous_path.is_file():
        options.previous, options.previous_name = year.previous_path.read_bytes(), PREVIOUS_FILE
    if year.contacts_path.is_file():
        options.known_senders = known_senders(read_contacts(year.contacts_path, book)[0])
    return options


def fingerprint(year: Year) -> tuple[tuple[tuple[object, ...], ...], tuple[tuple[str, int, int], ...]]:
    """What a run of the year depends on (names, sizes and times of its inputs): when it is unchanged,
    an earlier run's result still holds."""
    watched = [year.settings_path, year.districts_path, year.contacts_path, year.adjustments_path,
               year.previous_path, *(year.root / name for name in RULEBOOK_FILES)]
    stamps = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else (p.name,) for p in watched]
    inbox = []
    if year.inbox.is_dir():
        for path in sorted(year.inbox.rglob("*")):
            try:
                status = path.lstat()
            except OSError:
                continue
            inbox.append((str(path.relative_to(year.inbox)), status.st_size, status.st_mtime_ns))
    return tuple(stamps), tuple(inbox)


# ---- the lock -----------------------------------------------------------------------------------

@contextmanager
def locked(year: Year, what: str, wait: float = 0.0) -> Iterator[None]:
    """Hold the year's lock while writing into it. Another holder (a second tab, the console and a
    command) is waited for up to `wait` seconds, then refused with a message naming what it is doing.
    The lock belongs to an open file, so it ends with its process, however that ends."""
    handle = os.open(year.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + wait
        while not _try_lock(handle):
            if time.monotonic() >= deadline:
                raise YearError(P.make(Code.YEAR_BUSY, where=str(year.root), holder=_holder(year)))
            time.sleep(0.1)
        try:
            os.ftruncate(handle, 0)
            os.pwrite(handle, json.dumps({"pid": os.getpid(), "what": what,
                                          "since": datetime.now().strftime("%H:%M:%S")},
                                         ensure_ascii=False).encode("utf-8"), 0)
            yield
        finally:
            _unlock(handle)
    finally:
        os.close(handle)


def _holder(year: Year) -> str:
    try:
        data = json.loads(year.lock_path.read_text(encoding="utf-8"))
        return f"{data['what']}，进程{data['pid']}，开始于{data['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "另一个程序"


def _try_lock(handle: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt
        try:
            msvcrt.locking(handle, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            return True
        except OSError:
            return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(handle: int) -> None:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt
        os.lseek(handle, 0, os.SEEK_SET)
        msvcrt.locking(handle, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(handle, fcntl.LOCK_UN)


# ---- recently opened years ----------------------------------------------------------------------

def recent_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.environ.get("APPDATA") or str(Path.home() / ".config")
    return Path(base) / "assess-xl" / "最近打开的年度文件夹.txt"


def recent() -> list[Path]:
    """Year folders opened before, newest first, those still there."""
    try:
        lines = recent_file().read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [Path(line) for line in lines if line.strip() and is_year(Path(line))]


def remember(folder: Path) -> None:
    """Best effort: a read-only home only means the list is not kept."""
    kept = [folder] + [p for p in recent() if p != folder]
    try:
        files.write_files([(recent_file(), "".join(f"{p}\n" for p in kept[:RECENT_LIMIT]).encode("utf-8"))])
    except files.WriteError:
        pass
