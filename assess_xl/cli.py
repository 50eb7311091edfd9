"""Command line: arguments, paths, terminal output, exit statuses. Nothing else lives here: every
command calls the library (pipeline, forms, report, status) and only prints, prompts and exits."""
from __future__ import annotations

import errno
import imaplib
import inspect
import os
import re
import sys
import unicodedata
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from . import adjustments as adjustments_module
from . import demo as demo_module
from . import files as files_module
from . import forms as forms_module
from . import pipeline, publish, report, returns as returns_module, rulediff, rulesheet, status as status_module
from . import delivery, imapfetch, outbox, readback
from . import replay as replay_module
from . import problems as problems_module
from . import year as year_module
from . import yearwork
from . import rulebook as rulebook_module
from .components import fmt_number
from .layout import FETCH_RECORD, district_name_problems, split_district_names
from .pipeline import CollectOptions, Outcome
from .problems import ERROR, INFO, WARNING, shorten
from .problems import text as problem_text

EXIT_CLEAN, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
YEAR_LOCK_WAIT = 10.0  # seconds a run waits for another holder of a year folder's lock
console = Console(highlight=False, soft_wrap=True)
errors_console = Console(stderr=True, highlight=False, soft_wrap=True)


class UserError(click.ClickException):
    """One clear line (or a few) in Chinese, and exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None):
        errors_console.print(f"[bold red]错误：[/]{escape(self.message)}")


# ---- help and usage in Chinese ----------------------------------------------------------------

_HEADINGS = {"Options": "选项", "Commands": "命令", "Arguments": "参数"}
_EXTRA_WORDS = {"[required]": "[必填]", "default:": "默认："}
_EXTRAS = re.compile(r"\[required\]|default:")


class ChineseFormatter(click.HelpFormatter):
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args.replace("[OPTIONS]", "[选项]").replace("COMMAND [ARGS]...", "命令 [参数]..."),
                            prefix="用法：")

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{_HEADINGS.get(heading, heading)}：\n")

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        """Terms and their help, the help wrapped by display width (a Chinese character takes two columns),
        never cut."""
        rows = [(term, _EXTRAS.sub(lambda m: _EXTRA_WORDS[m.group()], text)) for term, text in rows]
        first = min(max((display_width(term) for term, _ in rows), default=0), col_max)
        margin = self.current_indent + first + col_spacing
        for term, text in rows:
            self.write(f"{'':>{self.current_indent}}{term}")
            if display_width(term) > first:
                self.write("\n" + " " * margin)
            else:
                self.write(" " * (first - display_width(term) + col_spacing))
            lines = wrap_display(text, max(self.width - margin, 20)) or [""]
            self.write(lines[0] + "\n")
            for line in lines[1:]:
                self.write(" " * margin + line + "\n")


_TOKENS = re.compile(r"[A-Za-z0-9_\-./%:=\[\]<>@]+|\s+|.")


_NO_LINE_START = set("。，、；：！？）》」』”’,;:!?)")
_LAST_TOKEN = re.compile(r"[A-Za-z0-9_\-./%:=\[\]<>@]+$|.$")


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap_display(text: str, width: int) -> list[str]:
    """Lines of at most `width` terminal columns; Latin words and option names are not split."""
    lines, line = [], ""
    for token in _TOKENS.findall(" ".join(text.split())):
        if line and display_width(line + token) > width:
            last = _LAST_TOKEN.search(line)
            carried = last.group() if token in _NO_LINE_START and last and last.start() > 0 else ""  # 。 never leads
            lines.append(line[:len(line) - len(carried)].rstrip())
            line = carried + token.lstrip()
        else:
            line += token
    return lines + [line.rstrip()] if line.strip() else lines


def first_sentence(text: str | None) -> str:
    """A command's short help in the command list: its help's first sentence, whole."""
    text = inspect.cleandoc(text or "")
    return text.split("。", 1)[0] + "。" if "。" in text else text


class ChineseContext(click.Context):
    formatter_class = ChineseFormatter


def chinese_help_option(option):
    """The help option's own text in Chinese, for commands and groups alike."""
    if option is not None:
        option.help = "显示本帮助并退出。"
    return option


class ChineseCommand(click.Command):
    context_class = ChineseContext

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or first_sentence(self.help)

    def get_help_option(self, ctx):
        return chinese_help_option(super().get_help_option(ctx))


class ChineseGroup(click.Group):
    """A command group whose help is Chinese and whose usage errors are one Chinese line and exit 2."""

    context_class = ChineseContext
    command_class = ChineseCommand
    group_class = type

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or first_sentence(self.help)

    def get_help_option(self, ctx):
        return chinese_help_option(super().get_help_option(ctx))

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as shown:
            console.print(escape(shown.ctx.get_help()))
            sys.exit(EXIT_CLEAN)
        except click.UsageError as error:
            errors_console.print(f"[bold red]错误：[/]{escape(usage_message(error))}")
            sys.exit(EXIT_USAGE)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.exceptions.Abort:
            errors_console.print("已取消。")
            sys.exit(EXIT_USAGE)
        except OSError as error:  # a path the system refuses (too long a name, a device gone): said, not a traceback
            where = f" {error.filename}" if error.filename else ""
            errors_console.print(f"[bold red]错误：[/]无法访问{escape(str(where))}（{problems_module.reason(error)}）。"
                                 "请检查路径后重试。")
            sys.exit(EXIT_USAGE)
        sys.exit(code or 0)


def usage_message(error: click.UsageError) -> str:
    """click's usage errors, said in Chinese: which option or argument, what is wrong, where to look."""
    param = getattr(error, "param", None)
    name = "/".join(param.opts) if param is not None and getattr(param, "opts", None) else getattr(param, "name", "")
    if isinstance(error, click.MissingParameter):
        return f"缺少{'选项' if isinstance(param, click.Option) else '参数'} {name or error.param_hint}。用 --help 查看用法。"
    if isinstance(error, click.NoSuchOption):
        return f"没有选项 {error.option_name}。用 --help 查看用法。"
    if isinstance(error, click.BadParameter) and param is not None and isinstance(param.type, click.Choice):
        return f"选项 {name} 的值无效，可选：{'、'.join(map(str, param.type.choices))}。"
    if isinstance(error, click.BadParameter):
        return f"{name or error.param_hint} 的值无效（{error.message}）。用 --help 查看用法。"
    if "No such command" in error.message:
        return f"没有这个命令（{error.message.split(chr(39))[1] if chr(39) in error.message else error.message}）。" \
               "可用命令：console、forms、collect、status、returns、adjustments-template、contacts-template、send、pdf、rules、demo。"
    return f"用法错误（{error.message}）。用 --help 查看用法。"


@click.group(cls=ChineseGroup, no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="assess-xl", message="assess-xl %(version)s", help="显示版本并退出。")
def main():
    """目标责任制考核：生成填报表、回收汇总、按评分细则计分并出具考核结果表。"""


def load_rulebook(path: str | None):
    try:
        return rulebook_module.load(path)
    except rulebook_module.RulebookError as exc:
        raise UserError("评分细则无法使用：\n" + "\n".join(exc.messages)) from None


RULES_OPTION = click.option("--rules", "rules_path", type=click.Path(dir_okay=False), metavar="细则文件",
                            help="评分细则文件（YAML，或 rules export 生成的 .xlsx）；默认使用内置的2007年度细则。")
DISTRICTS_HELP = "被考核的区：名单文件（每行一个区，UTF-8），或用逗号、顿号或空格分隔的区名，如“玄武区,秦淮区”。"


@main.group(no_args_is_help=True)
def rules():
    """评分细则（rulebook）相关命令。"""


@rules.command("check")
@click.argument("rulebook", required=False, type=click.Path(dir_okay=False), metavar="[细则文件]")
def rules_check(rulebook):
    """检查评分细则文件并打印摘要和警告（默认检查内置的2007年度细则）。"""
    book = load_rulebook(rulebook)
    figures = rulebook_module.summary(book)
    console.print(f"[bold]{escape(book.title)}[/]（{book.year}年度，指纹 {book.fingerprint}）")
    console.print(f"类别 {figures['categories']} 个，目标 {figures['targets']} 个，填报指标 {figures['indicators']} 个；"
                  f"基本分满分 {fmt_number(figures['nominal'])} 分，按规则最高可得 {fmt_number(figures['reachable'])} 分。")
    table = Table("部门", "指标数", title="各部门填报指标")
    for department, count in figures["per_department"].items():
        table.add_row(escape(department), str(count))
    console.print(table)
    for warning in book.warnings:
        console.print(f"[yellow]警告：[/]{escape(warning)}")
    console.print(f"共 {len(book.warnings)} 条警告。" if book.warnings else "没有警告。")
    sys.exit(EXIT_CLEAN)


def load_raw_rules(path: str | None) -> dict:
    try:
        return rulebook_module.load_raw(path)
    except rulebook_module.RulebookError as exc:
        raise UserError("评分细则无法使用：\n" + "\n".join(exc.messages)) from None


def refuse_existing(target: Path, force: bool) -> None:
    """Templates and copies are filled in by people: writing over one would lose their work."""
    if target.exists() and not force:
        raise UserError(f"{target} 已存在，没有覆盖（其中可能已有填写的内容）。换一个文件名，或加 --force 覆盖。")


def rules_file(given: str) -> Path:
    path = Path(given)
    if path.suffix.lower() not in (".yaml", ".yml", ".xlsx"):
        raise UserError(f"评分细则只能保存为 .yaml 或 .xlsx，不能保存为“{path.suffix or '（无扩展名）'}”。")
    return path


def rules_content(raw: dict, target: Path) -> bytes:
    if target.suffix.lower() == ".xlsx":
        return rulesheet.export(raw)
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False, width=1000).encode("utf-8")


@rules.command("init")
@click.option("-o", "--output", "out", required=True, metavar="文件", help="新细则的保存路径：.yaml 或 .xlsx（按扩展名）。")
@click.option("--force", is_flag=True, help="文件已存在时覆盖它。")
def rules_init(out, force):
    """写出内置的2007年度细则的副本，作为下一年度细则的起点。"""
    target = rules_file(out)
    refuse_existing(target, force)
    embedded = rulebook_module.embedded_rulebook_path()
    content = embedded.read_bytes() if target.suffix.lower() != ".xlsx" else rulesheet.export(load_raw_rules(None))
    write_atomically(target, content)
    console.print(f"已写出内置细则的副本：{escape(str(target))}。修改后用 assess-xl rules check {escape(str(target))} 检查。")
    sys.exit(EXIT_CLEAN)


@rules.command("export")
@click.argument("rulebook", type=click.Path(dir_okay=False), metavar="细则文件")
@click.option("-o", "--output", "out", required=True, metavar="文件", help="工作簿的保存路径（.xlsx）。")
def rules_export(rulebook, out):
    """把评分细则（YAML）转为可在Excel中编辑的工作簿（说明、类别、目标、指标、计分）。"""
    raw = load_raw_rules(rulebook)
    load_rulebook(rulebook)  # refuse to export a rulebook that does not load
    target = output_path(out, "细则工作簿")
    write_atomically(target, rulesheet.export(raw))
    console.print(f"细则工作簿已写入 {escape(str(target))}")
    sys.exit(EXIT_CLEAN)


@rules.command("import")
@click.argument("workbook", type=click.Path(dir_okay=False), metavar="细则.xlsx")
@click.option("-o", "--output", "out", required=True, metavar="文件", help="YAML细则的保存路径（.yaml）。")
def rules_import(workbook, out):
    """把在Excel中编辑的细则工作簿转回YAML（先检查，有错误时逐条说明工作表、行和列）。"""
    book = load_rulebook(workbook)
    target = rules_file(out)
    write_atomically(target, rules_content(load_raw_rules(workbook), target))
    console.print(f"细则已写入 {escape(str(target))}（指纹 {book.fingerprint}）")
    sys.exit(EXIT_CLEAN)


@rules.command("diff")
@click.argument("old", type=click.Path(dir_okay=False), metavar="旧细则")
@click.argument("new", type=click.Path(dir_okay=False), metavar="新细则")
def rules_diff(old, new):
    """比较两份评分细则（YAML或工作簿）：类别、目标、分值、指标、部门、计分方式的变化，以及各部门须新填报的指标。"""
    lines = rulediff.diff(load_raw_rules(old), load_raw_rules(new))
    for line in lines:
        console.print(escape(line))
    console.print(f"共 {len(lines)} 处变化。" if lines else "两份细则的内容相同。")
    sys.exit(EXIT_CLEAN)


@rules.command("replay")
@click.argument("old", type=click.Path(dir_okay=False), metavar="旧细则")
@click.argument("new", type=click.Path(dir_okay=False), metavar="新细则")
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="交回的文件或文件夹...")
@click.option("-o", "--output", "out", required=True, metavar="文件", help="影响分析工作簿的保存路径（.xlsx）。")
@click.option("--adjustments", "adjustments_path", default=None, type=click.Path(dir_okay=False, exists=True),
              metavar="调整表", help="综合处的复核调整表（按旧细则填写）：先更正数值、排除误发的文件，再计分。")
def rules_replay(old, new, paths, out, adjustments_path):
    """用今年交回的填报表，按旧细则和新细则分别计分：各区总分、排名的变化及造成变化的目标。"""
    old_book, new_book = load_rulebook(old), load_rulebook(new)
    target = output_path(out, "影响分析")
    options = with_adjustments(CollectOptions(), adjustments_path)
    read = read_or_stop(paths, old_book, options)
    result = replay_module.replay(old_book, new_book, read.values, read.adjustments if adjustments_path else None,
                                  options.adjustments_name)
    for problem in [p for p in read.problems if p.kind in adjustments_module.PROBLEM_KINDS]:
        errors_console.print(f"[yellow]调整表未采用[/] {escape(problem.cell)}：{escape(problem.message)}")
    for line in result.adjusted:
        console.print(escape(line))
    write_atomically(target, replay_module.workbook(result, old_book, new_book))
    moved = result.summary[result.summary["排名变化"] != 0]
    for district, row in moved.iterrows():
        console.print(f"{escape(str(district))}：排名 {int(row['原排名'])} → {int(row['新排名'])}，"
                      f"总分 {fmt_number(row['原总分'])} → {fmt_number(row['新总分'])}（{escape(row['影响的目标'])}）")
    if result.not_available:
        console.print(f"新细则新增的指标在原填报表中没有数据（按缺报计）：{'、'.join(result.not_available)}")
    console.print(f"影响分析已写入 {escape(str(target))}（{len(moved)}个区排名变化）")
    sys.exit(EXIT_CLEAN)


# ---- paths and writing ----------------------------------------------------------------------

def parse_districts(spec: str) -> list[str]:
    """A file (one district per line, UTF-8 with or without BOM) or a list separated by commas, 顿号 or
    semicolons (names may then hold spaces), or else by spaces. Every name is checked as forms would check it."""
    path = Path(spec)
    try:
        is_file = path.is_file()
    except OSError:  # a long list is not a file name
        is_file = False
    if is_file:
        try:
            names = demo_module.read_district_list(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError:
            raise UserError(f"区名单文件 {path} 不是UTF-8编码。请用记事本“另存为”UTF-8后重试。") from None
    else:
        names = split_district_names(spec)
    problems = district_name_problems(names)
    if problems:
        raise UserError("区名单不能使用：\n" + "\n".join(problems))
    return names


def output_path(given: str, what: str) -> Path:
    """An output workbook path: `.xlsx` added when there is no suffix, any other suffix refused."""
    path = Path(given)
    if path.suffix.lower() == ".xlsx":
        return path
    if path.suffix == "" or not re.fullmatch(r"\.[A-Za-z0-9]{1,5}", path.suffix):
        return path.with_name(path.name + ".xlsx")
    raise UserError(f"{what}只能保存为.xlsx工作簿，不能保存为“{path.suffix}”。请改为 {path.with_suffix('.xlsx')}。")


def refuse_if_open(target: Path) -> None:
    try:
        files_module.refuse_if_open(target)
    except files_module.WriteError as exc:
        raise UserError(str(exc)) from None


def write_files(files: list[tuple[Path, bytes]]) -> None:
    """Atomic writing (files.write_files); a failure is one Chinese line and exit 2."""
    try:
        files_module.write_files(files)
    except files_module.WriteError as exc:
        raise UserError(str(exc)) from None


def write_atomically(target: Path, content: bytes) -> None:
    write_files([(target, content)])


# ---- forms ----------------------------------------------------------------------------------

def make_forms(book, districts, out_dir: Path, password=None, force: bool = True) -> list[Path]:
    try:
        built = forms_module.build_forms(book, districts, password)
    except forms_module.FormError as exc:
        raise UserError("无法生成填报表：\n" + "\n".join(exc.messages)) from None
    if not force:
        refuse_other_forms(out_dir, book, districts)
    files = [(out_dir / form.name, form.content) for form in built]
    write_files(files)
    return [path for path, _ in files]


def refuse_other_forms(out_dir: Path, book, districts) -> None:
    """A folder that already holds forms of other districts or another rulebook is not mixed into."""
    if not out_dir.is_dir():
        return
    candidates = [(path, path.name) for path in sorted(out_dir.glob("*.xlsx")) if not path.name.startswith(("~$", "."))]
    clashes = pipeline.foreign_forms(candidates, book, districts)
    if clashes:
        raise UserError(f"文件夹 {out_dir} 中已有其他区名单或其他细则的填报表（{'；'.join(clashes)}）。"
                        "请换一个文件夹，或加 --force 覆盖。")


@main.command()
@click.option("--districts", "districts_spec", default=None, metavar="区名单",
              help=DISTRICTS_HELP + "使用 --prefill 时可省略（取交回的填报表中的区名单）。")
@RULES_OPTION
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), metavar="文件夹",
              help="填报表写入的文件夹（不存在则新建）。")
@click.option("--password", default=None, metavar="密码", help="工作表保护密码（默认不设密码，只锁定非填报单元格）。")
@click.option("--force", is_flag=True, help="文件夹中已有其他区名单或其他细则的填报表时，仍然写入。")
@click.option("--prefill", "prefill_paths", multiple=True, type=click.Path(), metavar="文件或文件夹",
              help="把已交回的填报表中的数据预先填入新表（可多次给出），中途重发填报表时不必重填。")
@click.option("--prefill-rules", "prefill_rules_path", default=None, type=click.Path(dir_okay=False), metavar="细则文件",
              help="交回的填报表所用的细则（默认：与 --rules 相同；不同时再试内置的2007年度细则）。"
                   "编号和类型都没有变的指标才预填。")
def forms(districts_spec, rules_path, out_dir, password, force, prefill_paths, prefill_rules_path):
    """生成填报表：一个包含全部部门的工作簿，以及每个部门一份单独的工作簿。"""
    book = load_rulebook(rules_path)
    if prefill_paths:
        sys.exit(make_prefilled_forms(book, districts_spec, prefill_paths, prefill_rules_path, Path(out_dir), force))
    if not districts_spec:
        raise UserError("缺少选项 --districts（被考核的区）。用 --help 查看用法。")
    districts = parse_districts(districts_spec)
    written = make_forms(book, districts, Path(out_dir), password, force)
    console.print(f"已为{len(districts)}个区生成{book.year}年度填报表，共{len(written)}个文件，位于 {escape(out_dir)}：")
    for path in written:
        console.print(f"  {escape(path.name)}")
    sys.exit(EXIT_CLEAN)


def make_prefilled_forms(book, districts_spec, paths, prefill_rules: str | None, out_dir: Path, force: bool) -> int:
    """The forms prefilled with what the returns hold that the rules still ask in the same way; says how
    many cells were prefilled and which indicators could not be and why. Exit 1 when nothing could be."""
    options = collect_options("latest", districts_spec, None)
    old, read = read_returns(paths, book, prefill_rules, options)
    districts = options.districts or read.districts
    carried = returns_module.carried_over(old, book, read, districts)
    if not force:
        refuse_other_forms(out_dir, book, districts)
    built = returns_module.prefilled_forms(book, carried, districts)
    write_files([(out_dir / form.name, form.content) for form in built])
    console.print(f"已生成{book.year}年度填报表，共{len(built)}个文件，位于 {escape(str(out_dir))}。")
    if old is not book:
        console.print(f"交回的填报表按{escape(old.title)}（指纹 {old.fingerprint}）读取，"
                      f"编号和类型都没有变的指标才预填。")
    reasons: dict[str, list[str]] = {}
    for code, why in carried.not_carried.items():
        reasons.setdefault(why, []).append(code)
    for why, codes in reasons.items():
        console.print(f"  [yellow]未预填[/] {escape('、'.join(codes))}：{escape(why)}")
    if not carried.values:
        console.print("[red]没有预填任何单元格[/]：交回的填报表中没有本细则可以沿用的数据，生成的是空白填报表。")
        return EXIT_PROBLEMS
    indicators = len({code for code, _ in carried.values})
    console.print(f"预填了{len(carried.values)}个单元格（{indicators}个指标）。")
    return EXIT_CLEAN


def read_returns(paths, book, prefill_rules: str | None, options: CollectOptions):
    """The returns read with the rulebook they were made with: --rules, else --prefill-rules, else the embedded
    one (the forms record only a rulebook's fingerprint, so each candidate is tried in turn)."""
    candidates = {book.fingerprint: book}
    for extra in ([load_rulebook(prefill_rules)] if prefill_rules else []) + [load_rulebook(None)]:
        candidates.setdefault(extra.fingerprint, extra)
    *others, last = [book] + [c for c in candidates.values() if c is not book]
    for candidate in others:
        with console.status("正在读取交回的文件……"):
            read, _ = pipeline.read(paths, candidate, options)
        if any(report.status == readback.READ for report in read.files):
            return candidate, read
    return last, read_or_stop(paths, last, options)


def read_or_stop(paths, book, options: CollectOptions):
    with console.status("正在读取交回的文件……"):
        read, _ = pipeline.read(paths, book, options)
    if read.worker_failures:
        raise UserError(f"本机无法启动读取进程，以下文件未能读取：{'、'.join(read.worker_failures)}。请检查内存和安装后重试。")
    if not read.districts:
        raise UserError("没有读到任何本细则的填报表。" + problem_lines(read, 10))
    return read


def write_return_copies(book, read, folder: Path) -> None:
    copies = returns_module.return_copies(book, read)
    if not copies:
        console.print("没有需要退回修改的部门。")
        return
    write_files([(folder / copy.name, copy.content) for copy in copies])
    departments = "、".join(copy.departments[0] for copy in copies)
    console.print(f"退回修改的填报表已写入 {escape(str(folder))}（{len(copies)}个部门：{escape(departments)}）")


@main.command("adjustments-template")
@click.option("-o", "--output", "out", required=True, metavar="文件", help="调整表的保存路径（.xlsx）。")
@RULES_OPTION
@click.option("--districts", "districts_spec", default=None, metavar="区名单", help="区名单（给出时“区”列有下拉列表）。" + DISTRICTS_HELP)
@click.option("--force", is_flag=True, help="文件已存在时覆盖它。")
def adjustments_template(out, rules_path, districts_spec, force):
    """生成空白的复核调整表：“调整”表逐行记录更正（区、编号、新值、理由、经办人、日期），“排除文件”表记录误发的文件。"""
    book = load_rulebook(rules_path)
    target = output_path(out, "调整表")
    refuse_existing(target, force)
    districts = parse_districts(districts_spec) if districts_spec else None
    write_atomically(target, adjustments_module.template(book, districts))
    console.print(f"调整表已写入 {escape(str(target))}。填写后用 collect --adjustments 使用。")
    sys.exit(EXIT_CLEAN)


@main.command("returns")
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="文件或文件夹...")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), metavar="文件夹",
              help="退回修改的填报表写入的文件夹。")
@RULES_OPTION
@click.option("--districts", "districts_spec", default=None, metavar="区名单",
              help="本次考核的区（默认取交回的填报表中一致的区名单）。" + DISTRICTS_HELP)
def returns_command(paths, out_dir, rules_path, districts_spec):
    """为有错误或缺报的部门生成退回修改的填报表：已接受的数据预先填好，需改正和未填写的单元格标出并加批注。"""
    book = load_rulebook(rules_path)
    read = read_or_stop(paths, book, collect_options("latest", districts_spec, None))
    write_return_copies(book, read, Path(out_dir))
    sys.exit(EXIT_CLEAN)


# ---- collect and status ---------------------------------------------------------------------

def collect_options(on_conflict: str, districts_spec: str | None, out: Path | None,
                    issuer: str | None = None) -> CollectOptions:
    return CollectOptions(strict_conflicts=on_conflict == "error",
                          districts=parse_districts(districts_spec) if districts_spec else None, output=out,
                          issuer=issuer.strip() if issuer and issuer.strip() else None, generated=datetime.now())


def with_adjustments(options: CollectOptions, path: str | None) -> CollectOptions:
    """The options with the coordinator's adjustments workbook, when one is given."""
    if path:
        options.adjustments, options.adjustments_name = Path(path).read_bytes(), Path(path).name
    return options


def run_collect(paths, out: Path, book, options: CollectOptions) -> pipeline.CollectResult:
    """Read, score and write the scorecard, or stop with a message when nothing sound can be written."""
    refuse_if_open(out)
    with console.status("正在读取和检查交回的文件……"):
        result = pipeline.collect(paths, book, options)
    stop_unless_written(result, out)
    write_atomically(out, result.content)
    return result


def stop_unless_written(result: pipeline.CollectResult, out: Path | None) -> None:
    if result.outcome is Outcome.WORKER_FAILED:
        raise UserError("本机无法启动读取进程，以下文件未能读取（不是文件本身的问题）："
                        f"{'、'.join(result.read.worker_failures)}。为免结果不全，没有写出报告。请检查内存和安装后重试。")
    if result.outcome is Outcome.OUTPUT_IS_INPUT:
        raise UserError(f"报告路径 {out} 是交回的填报表之一。请为报告另选文件名，以免覆盖交回的填报表。")
    if result.outcome is Outcome.NOTHING_READ:
        raise UserError("没有读到任何本细则的填报表（详见下方问题）。" + problem_lines(result.read, 10))
    if result.outcome is Outcome.NOTHING_FILLED:
        print_files(result.read)
        console.print(f"[yellow]收到的{len([f for f in result.read.files if f.status == '已读取'])}个填报表都没有填写任何数据"
                      "（都是空白表）。[/]没有生成考核结果。请确认交回的是填写后的文件。")
        sys.exit(EXIT_PROBLEMS)


def problem_lines(read, limit) -> str:
    lines = [f"\n  [{p.level}] {' '.join(x for x in (p.file, p.sheet, p.cell, p.district, p.code) if x)}：{p.message}"
             for p in read.problems[:limit]]
    lines += [f"\n  [跳过] {name}：{reason}" for name, reason, _ in read.skipped[:limit]]
    return "".join(lines)


def print_files(read) -> None:
    verdicts: dict[str, int] = {}
    for file in read.files:
        verdicts[file.status] = verdicts.get(file.status, 0) + 1
    parts = "，".join(f"{status} {count}" for status, count in verdicts.items())
    console.print(f"文件 {len(read.files)} 个（{escape(parts) or '无'}）；跳过 {len(read.skipped)} 个。")
    for file in read.files:
        if file.status not in ("已读取", "重复"):
            console.print(f"  [yellow]{escape(file.status)}[/] {escape(file.info.name)}：{escape(file.reason)}")
    for name, reason, _ in read.skipped:
        console.print(f"  [dim]跳过[/] {escape(name)}：{escape(reason)}")


def department_of(problem, book) -> str:
    """Whose item a problem is: the department owning the code, or the coordinator for the 调整表's own rows."""
    if problem.kind in adjustments_module.PROBLEM_KINDS:
        return adjustments_module.COORDINATOR_ITEMS
    if problem.code in book.indicators:
        return book.indicators[problem.code].department
    return problem.sheet if problem.sheet in book.departments else ""


def print_problem_summary(read, book) -> None:
    """Problems grouped by department: not received, blank cells (缺报), cells to fix, warnings."""
    counts = {level: sum(p.level == level for p in read.problems) for level in (ERROR, WARNING, INFO)}
    console.print(f"问题 {len(read.problems)} 条 = 错误 {counts[ERROR]} + 警告 {counts[WARNING]} + 提示 {counts[INFO]}。")
    table = Table("部门", "未收到（区）", "缺报单元格", "需改正单元格", "警告", title="各部门问题")
    rows: dict[str, list[int]] = {d: [0, 0, 0, 0] for d in [*book.departments, adjustments_module.COORDINATOR_ITEMS]}
    for problem in read.problems:
        row = rows.get(department_of(problem, book))
        if row is None:
            continue
        if problem.kind == "department_missing":
            row[0] += len(problem.district.split("、"))
        elif problem.kind == "missing":
            row[1] += 1
        elif problem.level == ERROR:
            row[2] += 1
        elif problem.level == WARNING:
            row[3] += 1
    for department, row in rows.items():
        if any(row):
            table.add_row(escape(department), *[str(n) if n else "" for n in row])
    if table.row_count:
        console.print(table)
    to_fix = [p for p in read.problems if p.level == ERROR and p.kind not in ("missing", "department_missing")]
    for problem in to_fix[:10]:
        where = " ".join(x for x in (problem.file, problem.sheet, problem.cell, problem.district, problem.code) if x)
        console.print(f"[red]需改正[/] {escape(where)}：{escape(problem.message)}")
    if len(to_fix) > 10:
        console.print(f"……另有{len(to_fix) - 10}条需改正的错误。")
    console.print("全部问题见报告的“问题清单”工作表。" if read.problems else "没有发现问题。")


def print_summary(result: pipeline.CollectResult, book, out) -> int:
    read, scores = result.read, result.scores
    assert scores is not None, "print_summary is called for written results only"
    print_files(read)
    console.print(f"区 {len(read.districts)} 个。")
    table = Table("排名", "区", "基本分", "加分", "总分", "缺报项数", title="考核排名")
    for row in scores.totals.sort_values("排名", kind="stable").itertuples():
        table.add_row(str(row.排名), escape(str(row.Index)), fmt_number(row.基本分), fmt_number(row.加分),
                      fmt_number(row.总分), str(row.缺报项数) if row.缺报项数 else "")
    console.print(table)
    print_problem_summary(read, book)
    console.print(f"考核结果已写入 {escape(str(out))}")
    return EXIT_CLEAN if result.complete else EXIT_PROBLEMS


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="文件或文件夹或年度文件夹...")
@click.option("-o", "--output", "out", default=None, metavar="文件",
              help="考核结果工作簿的保存路径（.xlsx；不写扩展名时自动加上）。给出年度文件夹时默认写入其“结果/考核结果.xlsx”。")
@RULES_OPTION
@click.option("--districts", "districts_spec", default=None, metavar="区名单",
              help="本次考核的区（默认取交回的填报表中一致的区名单）。" + DISTRICTS_HELP)
@click.option("--on-conflict", type=click.Choice(["latest", "error"]), default="latest",
              help="同一项在不同文件中填写不同时：latest（默认）采用较晚提交的值；error 视为错误、该项不计分。")
@click.option("--issuer", default=None, metavar="单位", help="印在考核结果和通报上的发文单位（默认取评分细则中的 issuer）。")
@click.option("--pdf", "with_pdf", is_flag=True, help="同时生成正式部分（汇总和各区得分表）的PDF，与结果工作簿同名。需要LibreOffice。")
@click.option("--notices", "notices_dir", default=None, type=click.Path(file_okay=False), metavar="文件夹",
              help="为每个区生成一份考核结果通报（Word文档），写入该文件夹。")
@click.option("--notice-template", default=None, type=click.Path(dir_okay=False, exists=True), metavar="模板",
              help="通报的Word样式模板（默认使用内置模板；可在Word中修改其样式后使用）。")
@click.option("--returns", "returns_dir", default=None, type=click.Path(file_okay=False), metavar="文件夹",
              help="同时为有错误或缺报的部门生成退回修改的填报表，写入该文件夹。")
@click.option("--contacts", "contacts_path", default=None, type=click.Path(dir_okay=False, exists=True), metavar="通讯录",
              help="通讯录：来自通讯录以外邮箱的邮件照常读取，但在来源和问题清单中注明。")
@click.option("--previous", "previous_path", default=None, type=click.Path(dir_okay=False, exists=True),
              metavar="上年结果", help="上年用本工具生成的考核结果工作簿：汇总增加上年总分、上年排名和变化，并提示变化异常的数据。")
@click.option("--adjustments", "adjustments_path", default=None, type=click.Path(dir_okay=False, exists=True),
              metavar="调整表", help="综合处的复核调整表（adjustments-template 生成）：逐项更正数值、排除误发的文件，均须写明理由。")
def collect(paths, out, rules_path, districts_spec, on_conflict, issuer, with_pdf, notices_dir, notice_template,
            returns_dir, contacts_path, previous_path, adjustments_path):
    """读取交回的填报表（文件或文件夹），按细则计分，生成考核结果工作簿（可同时生成PDF和各区通报）。
    只给出一个年度文件夹时，读取其中的收件箱、评分细则、区名单、调整表和通讯录，结果写入其“结果”文件夹。"""
    year = year_module.given_year(paths)
    if year is None and not out:
        raise UserError(problems_module.text("collect_no_output"))
    book = load_rulebook(rules_path or (str(year.rulebook_path) if year and year.rulebook_path else None))
    target = output_path(out, "考核结果") if out else year.scorecard_path
    options = collect_options(on_conflict, districts_spec, target, issuer)
    if year is not None:
        paths, options = (str(year.inbox),), year_options(year, book, options)
    if contacts_path:
        options.known_senders = frozenset(address.lower() for contact in load_contacts(contacts_path, book).values()
                                          for address in contact.addresses)
    if previous_path:
        options.previous, options.previous_name = Path(previous_path).read_bytes(), Path(previous_path).name
    with_adjustments(options, adjustments_path)
    with year_lock(year):
        result = run_collect(paths, target, book, options)
        status = print_summary(result, book, target)
        if notices_dir:
            write_notices(result, book, options, Path(notices_dir), notice_template)
        if returns_dir:
            write_return_copies(book, result.read, Path(returns_dir))
        if with_pdf:
            write_pdf(result.content, target.with_suffix(".pdf"), required=False)
    sys.exit(status)


def year_options(year, book, given: CollectOptions) -> CollectOptions:
    """The year folder's options (districts, adjustments, contacts, last year), overridden by those typed."""
    try:
        options = year_module.collect_options(year, book)
    except year_module.YearError as exc:
        raise UserError(exc.problem.message) from None
    options.strict_conflicts, options.output = given.strict_conflicts, given.output
    options.districts = given.districts or options.districts
    options.issuer = given.issuer or options.issuer
    return options


@contextmanager
def year_lock(year):
    """A run on a year's folder holds its lock (waiting a little for the console or another run)."""
    if year is None:
        yield
        return
    try:
        with year_module.locked(year, "命令行 collect", wait=YEAR_LOCK_WAIT):
            yield
    except year_module.YearError as exc:
        raise UserError(exc.problem.message) from None


def write_notices(result: pipeline.CollectResult, book, options: CollectOptions, folder: Path,
                  template_path: str | None) -> None:
    template = Path(template_path).read_bytes() if template_path else None
    try:
        documents = yearwork.notice_files(book, result, pipeline.signature(book, options), template)
    except Exception as exc:  # python-docx refuses a file that is not a Word document: say which
        raise UserError(f"通报模板 {template_path} 无法使用（{problems_module.reason(exc)}）。请使用Word保存的.docx文件。") from None
    write_files([(folder / name, content) for name, content in documents])
    console.print(f"各区通报已写入 {escape(str(folder))}（{len(documents)}份）")


def write_pdf(scorecard: bytes, target: Path, required: bool = True) -> None:
    """The official sheets as a PDF; without LibreOffice, say how to install it (an error only when
    the PDF was all that was asked for)."""
    try:
        content = publish.official_pdf(scorecard)
    except publish.PublishError as exc:
        if required:
            raise UserError(str(exc)) from None
        errors_console.print(f"[yellow]未生成PDF：[/]{escape(str(exc))}")
        return
    write_atomically(target, content)
    console.print(f"PDF已写入 {escape(str(target))}")


@main.command("pdf")
@click.argument("scorecard", type=click.Path(dir_okay=False, exists=True), metavar="考核结果.xlsx")
@click.option("-o", "--output", "out", default=None, metavar="文件", help="PDF的保存路径（默认与考核结果同名，扩展名.pdf）。")
def pdf_command(scorecard, out):
    """把考核结果工作簿的正式部分（汇总和各区得分表）转为PDF（需要LibreOffice）。"""
    source = Path(scorecard)
    try:
        content = publish.own_scorecard(source)
    except publish.PublishError as exc:
        raise UserError(str(exc)) from None
    target = Path(out) if out else source.with_suffix(".pdf")
    if target.suffix.lower() != ".pdf":
        target = target.with_name(target.name + ".pdf")
    write_pdf(content, target)
    sys.exit(EXIT_CLEAN)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="文件或文件夹...")
@RULES_OPTION
@click.option("--districts", "districts_spec", default=None, metavar="区名单",
              help="本次考核的区（默认取交回的填报表中一致的区名单）。" + DISTRICTS_HELP)
@click.option("-o", "--output", "out", default=None, metavar="文件", help="同时把填报情况表保存为工作簿（.xlsx）。")
def status(paths, rules_path, districts_spec, out):
    """查看各部门对各区的填报情况：谁已交、谁未交、由哪个文件提供。"""
    book = load_rulebook(rules_path)
    target = output_path(out, "填报情况表") if out else None
    if target:
        refuse_if_open(target)
    with console.status("正在读取交回的文件……"):
        read, _ = pipeline.read(paths, book, collect_options("latest", districts_spec, None))
    if read.worker_failures:
        raise UserError(f"本机无法启动读取进程，以下文件未能读取：{'、'.join(read.worker_failures)}。请检查内存和安装后重试。")
    if not read.districts:
        raise UserError("没有读到任何本细则的填报表。" + problem_lines(read, 10))
    table = status_module.matrix(book, read)
    files = status_module.files(book, read)
    print_files(read)
    print_status(table, files, returns_module.department_states(book, read))
    owing = status_module.owing(table)
    if target:
        write_atomically(target, report.status_workbook(table, files, book.title, datetime.now()))
        console.print(f"填报情况已写入 {escape(str(target))}")
    sys.exit(EXIT_PROBLEMS if owing else EXIT_CLEAN)


def print_status(table, files, states) -> None:
    """One row per department, readable at 80 columns and when redirected: its state, then the districts."""
    view = Table("部门", "状态", "已填齐", "未交", "部分填写", title=f"填报情况（{len(table.columns)}个区）")
    for column in view.columns:
        column.overflow = "fold"
    for department, row in zip(table.index, table.values.tolist()):
        complete = [d for d, cell in zip(table.columns, row) if cell == status_module.COMPLETE]
        missing = [d for d, cell in zip(table.columns, row) if cell == status_module.NOT_RETURNED]
        partial = [f"{d}（{cell.split()[-1]}）" for d, cell in zip(table.columns, row)
                   if cell not in (status_module.COMPLETE, status_module.NOT_RETURNED)]
        view.add_row(escape(department), state_text(states.get(department)), f"{len(complete)}/{len(table.columns)}",
                     f"[red]{escape('、'.join(missing))}[/]" if missing else "", escape("、".join(partial)))
    console.print(view)
    for department, names in files.items():
        if names:
            console.print(f"  {escape(department)}：{escape(names)}")
    for department, districts in status_module.owing(table).items():
        console.print(f"[yellow]待催报：[/]{escape(department)}（{escape('、'.join(districts))}）")


def state_text(state) -> str:
    if state is None:
        return ""
    if state.state == "有错待改":
        parts = [f"改{state.to_fix}处" if state.to_fix else "", f"补{state.owed}处" if state.owed else ""]
        return f"[yellow]有错待改[/]（{'，'.join(p for p in parts if p)}）"
    return "[red]未交[/]" if state.state == "未交" else "[green]齐全[/]"


# ---- mail the coordinator receives ----------------------------------------------------------------

@main.command()
@click.option("--host", required=True, metavar="服务器", help="IMAP服务器，如 imap.example.cn。")
@click.option("--port", type=int, default=None, metavar="端口", help="端口（默认：SSL 993，其他 143）。")
@click.option("--user", required=True, metavar="用户名",
              help="邮箱用户名；密码取环境变量 ASSESS_XL_IMAP_PASSWORD，没有时提示输入，不会写入任何文件。")
@click.option("--folder", default="INBOX", metavar="文件夹", help="邮箱中的文件夹（默认 INBOX）。")
@click.option("--since", default=None, metavar="日期", help="只收取该日期以后的邮件，如 2008-01-01。")
@click.option("--security", type=click.Choice(["ssl", "starttls", "plain"]), default="ssl",
              help="连接方式：ssl（默认，IMAPS）、starttls 或 plain（不加密，只用于本机测试）。")
@click.option("--mark-seen", is_flag=True, help="把收取的邮件标为已读（默认不改动服务器上的任何邮件和标记）。")
@click.option("--cafile", default=None, type=click.Path(dir_okay=False, exists=True), metavar="证书",
              help="信任的CA证书（PEM），用于使用单位自签证书的邮件服务器；默认只信任系统证书。")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=imapfetch.DEFAULT_TIMEOUT, show_default=True,
              metavar="秒", help="服务器每次应答最多等待的秒数（大邮件按每秒100 KB另加时间）；超时的邮件下次再收。")
@click.option("--contacts", "contacts_path", default=None, type=click.Path(dir_okay=False, exists=True),
              metavar="通讯录", help="通讯录：保存的邮件文件名写发件部门，而不是发件地址。")
@RULES_OPTION
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), metavar="文件夹",
              help="邮件（.eml）保存的文件夹；collect 和 status 可以直接读取它。")
def fetch(host, port, user, folder, since, security, mark_seen, cafile, timeout, contacts_path, rules_path, out_dir):
    """收取邮件：从IMAP邮箱下载所有带工作簿（或其压缩包）附件的邮件，每封存为一个 .eml；再次运行只下载新邮件。"""
    try:
        since_day = datetime.strptime(since, "%Y-%m-%d").date() if since else None
    except ValueError:
        raise UserError(f"日期“{since}”无效。请写成 2008-01-01 这样的格式。") from None
    departments = sender_departments(contacts_path, rules_path) if contacts_path else {}
    folder_path = Path(out_dir)
    record = FetchRecord(folder_path)
    password = os.environ.get("ASSESS_XL_IMAP_PASSWORD") or click.prompt("邮箱密码", hide_input=True)
    server = imapfetch.Server(host, port or (993 if security == "ssl" else 143), security, user, password, cafile,
                              timeout)
    try:
        with Progress(TextColumn("收取邮件"), BarColumn(), MofNCompleteColumn(), console=console,
                      transient=True) as bar:
            task = bar.add_task("", total=None)
            fetched = imapfetch.fetch_new(server, folder, since_day, record.known(), record.deliver, mark_seen,
                                          lambda address: departments.get(address.lower(), address),
                                          lambda n, total: bar.update(task, completed=n, total=total))
    except (imapfetch.ServerFault, imaplib.IMAP4.error, OSError) as exc:
        raise UserError(f"无法从 {host} 收取邮件：{imapfetch.connection_reason(exc, server)}。") from None
    sys.exit(print_fetched(fetched, folder_path))


class FetchRecord:
    """fetch's output folder: the .eml files saved there and its list of messages read (one key a line,
    appended after each batch, so a run stopped half-way keeps what it did). Checked writable before
    anything is downloaded."""

    def __init__(self, folder: Path):
        self.folder, self.path = folder, folder / FETCH_RECORD
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise UserError(record_failure(exc, self.path)) from None

    def known(self) -> set[str]:
        names = {p.name for p in self.folder.glob("*.eml")}
        try:
            return names | set(self.path.read_text(encoding="utf-8", errors="replace").split())
        except OSError as exc:
            raise UserError(record_failure(exc, self.path)) from None

    def deliver(self, files: list[tuple[str, bytes]], keys: list[str]) -> list[bool]:
        """Save the new files, then remember every message read; which files were new."""
        new, seen = [], set()
        for name, _ in files:  # a name is its content's hash: the same name twice is the same message
            new.append(name not in seen and not (self.folder / name).exists())
            seen.add(name)
        write_files([(self.folder / name, raw) for (name, raw), fresh in zip(files, new) if fresh])
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write("".join(f"{key}\n" for key in keys))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise UserError(record_failure(exc, self.path)) from None
        return new


def record_failure(exc: OSError, path: Path) -> str:
    why = {errno.ENOSPC: "磁盘已满", errno.EROFS: "所在的盘是只读的", errno.EACCES: "没有写入权限",
           errno.EPERM: "没有写入权限", errno.EISDIR: "同名的是一个文件夹", errno.ENOTDIR: "路径中有同名的文件而不是文件夹",
           errno.EEXIST: "路径中有同名的文件而不是文件夹"}.get(exc.errno or 0, "系统拒绝写入")
    return (f"无法写入已检查邮件的记录 {path}（{why}）。没有这份记录，下次运行会重复下载，因此没有收取邮件。"
            "请检查该文件夹的权限和磁盘空间，或用 -o 换一个文件夹。")


def sender_departments(contacts_path: str, rules_path: str | None) -> dict[str, str]:
    """address (lower case) → department, for the names of saved messages."""
    contacts = load_contacts(contacts_path, load_rulebook(rules_path))
    return {address.lower(): contact.department for contact in contacts.values() for address in contact.addresses}


def print_fetched(fetched, folder: Path) -> int:
    """What was saved, what had no workbook, which messages were skipped or are to be tried again."""
    if fetched.saved:
        console.print(f"收到{len(fetched.saved)}封带工作簿的新邮件，已存入 {escape(str(folder))}。")
    else:
        console.print("没有带工作簿的新邮件。" if fetched.total else "没有新邮件。")
    if fetched.without_workbook:
        console.print(f"另有{fetched.without_workbook}封新邮件没有工作簿附件，以后不再下载。")
    if fetched.already:
        console.print(f"{fetched.already}封新邮件以前已经保存过，没有重复保存。")
    for line in fetched.refused:
        errors_console.print(f"[red]已跳过：[/]{escape(line)}")
    for line in fetched.retry:
        errors_console.print(f"[yellow]未收到：[/]{escape(line)}")
    return EXIT_PROBLEMS if fetched.refused or fetched.retry else EXIT_CLEAN


# ---- mail the coordinator sends -----------------------------------------------------------------

@main.command("contacts-template")
@click.option("-o", "--output", "out", required=True, metavar="文件", help="通讯录的保存路径（.xlsx）。")
@RULES_OPTION
@click.option("--force", is_flag=True, help="文件已存在时覆盖它。")
def contacts_template(out, rules_path, force):
    """生成通讯录模板（部门、联系人、邮箱），已列出评分细则中的各部门。"""
    book = load_rulebook(rules_path)
    target = output_path(out, "通讯录")
    refuse_existing(target, force)
    write_atomically(target, outbox.contacts_template(book))
    console.print(f"通讯录模板已写入 {escape(str(target))}。填好邮箱后用于 assess-xl send。")
    sys.exit(EXIT_CLEAN)


def send_options(function):
    for option in reversed([
        click.option("--contacts", "contacts_path", required=True, type=click.Path(dir_okay=False, exists=True),
                     metavar="通讯录", help="通讯录（.xlsx 或 .csv：部门、联系人、邮箱；一个部门可有多个邮箱，用分号隔开）。"),
        click.option("--from", "sender", required=True, metavar="发件人",
                     help="发件人，如 zhc@hbj.gov.cn 或 \"市环保局综合处 <zhc@hbj.gov.cn>\"（名称会显示在收件人的邮件程序中）。"),
        click.option("--deadline", default="", metavar="期限", help="写在邮件中的截止日期，如“1月15日”。"),
        click.option("--outbox", "outbox_dir", default="发件箱", type=click.Path(file_okay=False), metavar="文件夹",
                     help="邮件草稿（.eml）和发送记录写入的文件夹（默认“发件箱”）。不用 --smtp 时只写草稿，可用任何邮件程序打开后发送。"),
        click.option("--smtp", default=None, metavar="服务器[:端口]", help="直接通过该SMTP服务器发送。"),
        click.option("--user", default=None, metavar="用户名",
                     help="SMTP登录用户名；密码取环境变量 ASSESS_XL_SMTP_PASSWORD，没有时提示输入，不会写入任何文件。"),
        click.option("--ssl", "security", flag_value="ssl", help="SMTP使用SSL（通常是465端口）。"),
        click.option("--starttls", "security", flag_value="starttls", help="SMTP使用STARTTLS（通常是587端口）。"),
        RULES_OPTION,
    ]):
        function = option(function)
    return function


@main.group(no_args_is_help=True)
def send():
    """发送邮件：填报表、催报、退回修改（默认写成草稿，也可直接通过SMTP发送）。"""


def load_contacts(path: str, book) -> dict:
    try:
        contacts, problems = year_module.read_contacts(Path(path), book)
    except year_module.YearError as exc:
        raise UserError(exc.problem.message) from None
    for problem in problems:
        errors_console.print(f"[yellow]通讯录：[/]{escape(problem)}")
    return contacts


def sender_mailbox(sender: str) -> outbox.Mailbox:
    try:
        return outbox.mailbox(sender)
    except outbox.BadAddress as bad:
        raise UserError(problem_text("sender_newline" if bad.reason == "newline" else "sender_invalid",
                                     raw=shorten(sender, 100))) from None


@send.command("forms")
@click.option("--forms", "forms_dir", required=True, type=click.Path(file_okay=False, exists=True), metavar="文件夹",
              help="forms 命令生成填报表的文件夹（每个部门发送它自己的一份）。")
@send_options
def send_forms(forms_dir, contacts_path, sender, deadline, outbox_dir, smtp, user, security, rules_path):
    """给每个部门发送它自己的填报表。"""
    book = load_rulebook(rules_path)
    from_ = sender_mailbox(sender)
    contacts = load_contacts(contacts_path, book)
    copies = {}
    for department in book.departments:
        path = Path(forms_dir) / forms_module.file_name(book, department)
        if path.is_file():
            copies[department] = (path.name, path.read_bytes())
    owed = [d for d in book.departments if book.department_indicators(d)]
    unsent = [problem_text("send_no_form", folder=forms_dir, departments="、".join(d for d in owed if d not in copies))]
    unsent = unsent if any(d not in copies for d in owed) else []
    deliver(outbox.form_messages(book, contacts, copies, from_, deadline), outbox.unaddressed(contacts, copies),
            unsent, outbox_dir, smtp, user, security, from_)


@send.command("remind")
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="文件或文件夹...")
@send_options
@click.option("--round", "round_name", default="", metavar="轮次",
              help="催报的轮次（如“第二次”）。默认按 --deadline，没有时按当天日期：同一轮重新运行不会重发，新的一轮会再发。")
def send_remind(paths, contacts_path, sender, deadline, outbox_dir, smtp, user, security, rules_path, round_name):
    """催报：给还欠填报或需要改正的部门发邮件，逐区列出未填写的指标和每个需改正单元格的问题。"""
    book = load_rulebook(rules_path)
    from_ = sender_mailbox(sender)
    contacts = load_contacts(contacts_path, book)
    read = read_or_stop(paths, book, CollectOptions())
    owing = returns_module.owing_lines(book, read)
    this_round = round_name.strip() or (f"截止{deadline.strip()}" if deadline.strip() else datetime.now().strftime("%Y-%m-%d"))
    console.print(f"催报轮次：{escape(this_round)}（同一轮重新运行不会重发；要再催一次，请给出新的 --deadline 或 --round）")
    deliver(outbox.reminder_messages(book, contacts, owing, from_, deadline, this_round, received_from(read)),
            outbox.unaddressed(contacts, owing), [], outbox_dir, smtp, user, security, from_)


@send.command("returns")
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="文件或文件夹...")
@send_options
def send_returns(paths, contacts_path, sender, deadline, outbox_dir, smtp, user, security, rules_path):
    """给有错误或缺报的部门发送退回修改的填报表；没有交回的部门，说明尚未收到并再次附上填报表。"""
    book = load_rulebook(rules_path)
    from_ = sender_mailbox(sender)
    contacts = load_contacts(contacts_path, book)
    read = read_or_stop(paths, book, CollectOptions())
    copies = {c.departments[0]: (c.name, c.content) for c in returns_module.return_copies(book, read)}
    deliver(outbox.return_messages(book, contacts, copies, from_, deadline, received_from(read)),
            outbox.unaddressed(contacts, copies), [], outbox_dir, smtp, user, security, from_)


def received_from(read) -> set[str]:
    """The departments that returned something (a sheet with input) in any file read."""
    return {department for report in read.files for department in report.supplied}


def deliver(messages, unaddressed: list[str], unsent: list[str], outbox_dir: str, smtp: str | None,
            user: str | None, security: str | None, sender: outbox.Mailbox) -> None:
    """Drafts into the outbox, or through SMTP; either way the send log, written before anything else
    is done and row by row as the server accepts; what was sent is not sent again. Exit 1 when some
    department got nothing (no address, no form) or some recipient failed."""
    folder = Path(outbox_dir)
    failed = False
    if unaddressed:
        unsent = [*unsent, problem_text("send_no_address", departments="、".join(unaddressed))]
    try:
        pending = delivery.remaining(messages, delivery.delivered(folder / delivery.SEND_LOG))
        if not pending:
            console.print("没有需要发送的邮件（都已发送过，见发送记录）。" if messages else "没有需要发送的邮件。")
        elif smtp is None:
            write_drafts(folder, pending)
        else:
            failed = send_through(pending, smtp, security, user, sender, folder)
    except delivery.DeliveryError as error:
        errors_console.print(f"[bold red]错误：[/]{escape(error.message)}")
        sys.exit(EXIT_PROBLEMS if error.sent_any else EXIT_USAGE)
    for line in unsent:
        errors_console.print(f"[red]未发送：[/]{escape(line)}")
    sys.exit(EXIT_PROBLEMS if unsent or failed else EXIT_CLEAN)


def write_drafts(folder: Path, pending) -> None:
    with delivery.SendLog(folder / delivery.SEND_LOG) as log:
        write_files([(folder / outbox.draft_name(m, n), m.draft) for n, (m, _) in enumerate(pending, start=1)])
        for message, recipients in pending:
            try:
                log.record(message, [(address, delivery.DRAFTED) for address in recipients])
            except OSError as exc:
                raise delivery.DeliveryError(problem_text("send_log_failed", path=log.path, reason=delivery.os_reason(exc),
                                                          messages="无（只写了草稿）")) from None
    console.print(f"已写出{len(pending)}封邮件草稿到 {escape(str(folder))}，请用邮件程序打开检查后发送。")


def send_through(pending, smtp: str, security: str | None, user: str | None, sender: outbox.Mailbox,
                 folder: Path) -> bool:
    """Sends (the log opened first, so that an unwritable log stops the run before the password is asked);
    prints what was sent and what failed; True when something failed."""
    with delivery.SendLog(folder / delivery.SEND_LOG) as log:
        server = delivery.Server.parse(smtp, security, user, smtp_password(user))
        outcome = delivery.send_all(pending, server, sender.address, log)
    console.print(f"已发送{outcome.sent}封邮件。")
    for message, address, reason in outcome.failed:
        errors_console.print(f"[red]发送失败[/] {escape(message.department)}（{escape(address)}）：{escape(reason)}")
    for note in outcome.notes:
        errors_console.print(escape(note))
    return bool(outcome.failed)


def smtp_password(user: str | None) -> str | None:
    if not user:
        return None
    return os.environ.get("ASSESS_XL_SMTP_PASSWORD") or click.prompt("SMTP密码", hide_input=True)


# ---- the console -----------------------------------------------------------------------------------

@main.command("console")
@click.argument("folder", required=False, type=click.Path(file_okay=False), metavar="[年度文件夹]")
@click.option("--port", type=click.IntRange(0, 65535), default=None, metavar="端口",
              help="监听的端口（默认8765，被占用时自动选择）。只在本机 127.0.0.1 上提供。")
@click.option("--no-browser", is_flag=True, help="不打开浏览器：第一行打印带凭据的网址，一直运行到按 Ctrl-C。")
def console_command(folder, port, no_browser):
    """打开考核控制台：在浏览器中完成全年的工作（设置、填报表、收件、进度、问题、调整、结果、发布、细则）。
    年度文件夹不存在或是空文件夹时新建；不写时在浏览器中新建或打开最近的年度文件夹。"""
    from .console import server
    try:
        year = year_module.open_or_create(folder) if folder else None
        server.serve(year, port, not no_browser, lambda line: click.echo(line))
    except year_module.YearError as exc:
        raise UserError(exc.problem.message) from None
    except server.PortBusy as exc:
        raise UserError(str(exc)) from None
    sys.exit(EXIT_CLEAN)


# ---- demo -------------------------------------------------------------------------------------

@main.command()
@click.option("-o", "--output", "out_dir", default="assess-xl-demo", type=click.Path(file_okay=False), metavar="文件夹",
              help="演示文件写入的文件夹（默认 assess-xl-demo）。")
def demo(out_dir):
    """演示完整流程：用内置2007年度细则和示例数据生成填报表、模拟各部门填写、汇总评分。"""
    book = load_rulebook(None)
    out = Path(out_dir)
    districts = demo_module.sample_districts()
    blank = make_forms(book, districts, out / "1-空白填报表")
    inbox = out / "2-交回的填报表"
    inbox.mkdir(parents=True, exist_ok=True)
    entries = demo_module.sample_entries(book)
    by_name = {p.name: p for p in blank}
    full_departments = ["办公室", "综合处", "环监局"]  # these fill the full workbook, the others their own copy
    demo_module.fill_workbook(by_name[forms_module.file_name(book, None)], inbox / "全部部门-综合处汇总.xlsx",
                              {d: entries[d] for d in full_departments if d in entries})
    for department, codes in entries.items():
        if department not in full_departments:
            demo_module.fill_workbook(by_name[forms_module.file_name(book, department)],
                                      inbox / f"{department}-已填.xlsx", {department: codes})
    report_path = out / "3-考核结果.xlsx"
    result = run_collect([inbox], report_path, book, CollectOptions(output=report_path))
    console.print(f"空白填报表：{escape(str(out / '1-空白填报表'))}（{len(blank)}个文件）")
    console.print(f"模拟交回的填报表：{escape(str(inbox))}")
    print_summary(result, book, report_path)
    console.print("示例数据中故意含有几处填写错误和空白，用来展示“问题清单”。")
    sys.exit(EXIT_CLEAN)

