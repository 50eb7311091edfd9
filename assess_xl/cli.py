"""Command line: arguments, paths, terminal output, exit statuses. Nothing else lives here."""
from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from . import demo as demo_module
from . import forms as forms_module
from . import intake, readback, report, scoring, status as status_module
from . import rulebook as rulebook_module
from .components import fmt_number
from .problems import ERROR, WARNING

EXIT_CLEAN, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
console = Console(highlight=False, soft_wrap=True)


class UserError(click.ClickException):
    """One clear line and exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file=None):
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]错误：[/]{self.message}")


def load_rulebook(path: str | None):
    try:
        return rulebook_module.load(path)
    except rulebook_module.RulebookError as exc:
        raise UserError("评分细则无法使用：\n" + "\n".join(exc.messages)) from None


RULES_OPTION = click.option("--rules", "rules_path", type=click.Path(dir_okay=False),
                            help="评分细则文件（YAML）；默认使用内置的2007年度细则。")


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
               "可用命令：forms、collect、status、rules check、demo。"
    return f"用法错误（{error.message}）。用 --help 查看用法。"


class ChineseGroup(click.Group):
    """A command group whose usage errors are one Chinese line and exit 2."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.UsageError as error:
            Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]错误：[/]{usage_message(error)}")
            sys.exit(EXIT_USAGE)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.exceptions.Abort:
            Console(stderr=True).print("已取消。")
            sys.exit(EXIT_USAGE)
        sys.exit(code or 0)


@click.group(cls=ChineseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="assess-xl", message="assess-xl %(version)s")
def main():
    """目标责任制考核：生成填报表、回收汇总、按评分细则计分并出具考核结果表。"""


@main.group()
def rules():
    """评分细则（rulebook）相关命令。"""


@rules.command("check")
@click.argument("rulebook", required=False, type=click.Path(dir_okay=False))
def rules_check(rulebook):
    """检查评分细则文件并打印摘要和警告（默认检查内置的2007年度细则）。"""
    book = load_rulebook(rulebook)
    figures = rulebook_module.summary(book)
    console.print(f"[bold]{book.title}[/]（{book.year}年度，指纹 {book.fingerprint}）")
    console.print(f"类别 {figures['categories']} 个，目标 {figures['targets']} 个，填报指标 {figures['indicators']} 个；"
                  f"基本分满分 {fmt_number(figures['nominal'])} 分，按规则最高可得 {fmt_number(figures['reachable'])} 分。")
    table = Table("部门", "指标数", title="各部门填报指标")
    for department, count in figures["per_department"].items():
        table.add_row(department, str(count))
    console.print(table)
    for warning in book.warnings:
        console.print(f"[yellow]警告：[/]{warning}")
    console.print(f"共 {len(book.warnings)} 条警告。" if book.warnings else "没有警告。")
    sys.exit(EXIT_CLEAN)


# ---- forms ------------------------------------------------------------------------------

def parse_districts(spec: str) -> list[str]:
    """A file (one district per line, UTF-8 with or without BOM) or a comma list."""
    path = Path(spec)
    if path.is_file():
        try:
            names = demo_module.read_district_list(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError:
            raise UserError(f"区名单文件 {path} 不是UTF-8编码。请用记事本“另存为”UTF-8后重试。") from None
    else:
        for comma in ("，", "、", ";", "；"):
            spec = spec.replace(comma, ",")
        raw = spec.split(",")
        if any(not name.strip() for name in raw):
            raise UserError(f"区名单“{spec}”中有空白的区名（多余的逗号？）。请写成“玄武区,秦淮区”。")
        names = [name.strip() for name in raw]
    if not names:
        raise UserError("区名单是空的。请给出区名单文件，或用逗号分隔的区名，如“玄武区,秦淮区”。")
    reserved = [n for n in names if n in forms_module.CONTEXT_HEADERS]
    if reserved:
        raise UserError(f"区名不能与填报表的表头相同：{'、'.join(reserved)}。请换一个名称。")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"区名单中有重复的区：{'、'.join(duplicates)}。每个区只能出现一次。")
    return names


def write_atomically(target: Path, content: bytes) -> None:
    """Write beside the target, then move into place: a failure leaves the old file intact."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except PermissionError:
        raise UserError(f"无法写入 {target}：文件被占用或没有权限（可能正在Excel中打开）。请关闭后重试；原文件未改动。") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def make_forms(book, districts, out_dir: Path, password=None) -> list[Path]:
    written = []
    for form in forms_module.build_forms(book, districts, password):
        path = out_dir / form.name
        write_atomically(path, form.content)
        written.append(path)
    return written


@main.command()
@click.option("--districts", "districts_spec", required=True,
              help="被考核的区：名单文件（每行一个区，UTF-8），或用逗号分隔的区名，如“玄武区,秦淮区”。")
@RULES_OPTION
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="填报表写入的文件夹（不存在则新建）。")
@click.option("--password", default=None, help="工作表保护密码（默认不设密码，只锁定非填报单元格）。")
def forms(districts_spec, rules_path, out_dir, password):
    """生成填报表：一个包含全部部门的工作簿，以及每个部门一份单独的工作簿。"""
    book = load_rulebook(rules_path)
    districts = parse_districts(districts_spec)
    written = make_forms(book, districts, Path(out_dir), password)
    console.print(f"已为{len(districts)}个区生成{book.year}年度填报表，共{len(written)}个文件，位于 {out_dir}：")
    for path in written:
        console.print(f"  {path.name}")
    sys.exit(EXIT_CLEAN)


# ---- collect and status --------------------------------------------------------------------

def read_with_progress(found, skipped, book, strict=False) -> readback.ReadResult:
    if not intake.openpyxl_is_defused():  # openpyxl only uses defusedxml when it is importable
        console.print("[yellow]警告：[/]未检测到 defusedxml，openpyxl 解析XML时不能防御实体攻击。请执行 pip install defusedxml。")
    with Progress(TextColumn("读取文件"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  console=console, transient=True, disable=len(found) < 5) as progress:
        task = progress.add_task("", total=len(found))
        return readback.read_gathered(found, skipped, book, strict,
                                      lambda name: progress.update(task, advance=1, description=name))


def run_collect(paths, out: Path, book, strict=False):
    """Read, score and write the scorecard; returns (read result, scores)."""
    found, skipped = intake.gather(paths)
    if Path(os.path.realpath(out)) in {Path(os.path.realpath(p)) for p, _ in found}:
        raise UserError(f"报告路径 {out} 是输入文件之一。请为报告另选文件名，以免覆盖交回的填报表。")
    read = read_with_progress(found, skipped, book, strict)
    if not read.districts:
        raise UserError("没有读到任何本细则的填报表（详见下方问题）。" + _problem_lines(read.problems, 10))
    scores = scoring.score(read.values, book)
    explanations = scoring.explain(read.values, book, scores, read.unreadable)
    content = report.build(book, scores, explanations, read, datetime.now())
    write_atomically(out, content)
    return read, scores


def _problem_lines(problems, limit) -> str:
    lines = [f"\n  [{p.level}] {p.file} {p.sheet} {p.cell} {p.district} {p.code}：{p.message}".replace("  ", " ")
             for p in problems[:limit]]
    return "".join(lines)


def print_summary(read, scores, out):
    errors = sum(p.level == ERROR for p in read.problems)
    warnings = sum(p.level == WARNING for p in read.problems)
    accepted = sum(r.status == "已读取" for r in read.files)
    console.print(f"读取文件 {len(read.files)} 个（有效 {accepted} 个，跳过 {len(read.skipped)} 个）；"
                  f"区 {len(read.districts)} 个；问题 {len(read.problems)} 条（错误 {errors}，警告 {warnings}）。")
    table = Table("排名", "区", "基本分", "加分", "总分", "缺报项数", title="考核排名")
    for row in scores.totals.sort_values("排名", kind="stable").itertuples():
        table.add_row(str(row.排名), row.Index, fmt_number(row.基本分), fmt_number(row.加分),
                      fmt_number(row.总分), str(row.缺报项数) if row.缺报项数 else "")
    console.print(table)
    for problem in [p for p in read.problems if p.level == ERROR][:8]:
        where = " ".join(x for x in (problem.file, problem.sheet, problem.cell, problem.district, problem.code) if x)
        console.print(f"[red]错误[/] {where}：{problem.message}")
    if errors > 8:
        console.print(f"……另有{errors - 8}条错误，见报告的“问题清单”工作表。")
    console.print(f"考核结果已写入 {out}")
    complete = errors == 0 and int(scores.totals["缺报项数"].sum()) == 0
    return EXIT_CLEAN if complete else EXIT_PROBLEMS


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False),
              help="考核结果工作簿的保存路径（.xlsx）。")
@RULES_OPTION
@click.option("--on-conflict", type=click.Choice(["latest", "error"]), default="latest", show_default=True,
              help="同一项在不同文件中填写不同时：latest 采用较晚提交的值；error 视为错误、该项不计分。")
def collect(paths, out, rules_path, on_conflict):
    """读取交回的填报表（文件或文件夹），按细则计分，生成考核结果工作簿。"""
    book = load_rulebook(rules_path)
    read, scores = run_collect(paths, Path(out), book, on_conflict == "error")
    sys.exit(print_summary(read, scores, out))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@RULES_OPTION
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), default=None,
              help="同时把填报情况表保存为工作簿（.xlsx）。")
def status(paths, rules_path, out):
    """查看各部门对各区的填报情况：谁已交、谁未交、由哪个文件提供。"""
    book = load_rulebook(rules_path)
    read = read_with_progress(*intake.gather(paths), book)
    if not read.districts:
        raise UserError("没有读到任何本细则的填报表。" + _problem_lines(read.problems, 10))
    table = status_module.matrix(book, read)
    view = Table("部门", *read.districts, "提供文件", title="填报情况")
    for department, row in table.iterrows():
        cells = [f"[red]{v}[/]" if v == status_module.NOT_RETURNED else str(v) for v in row]
        view.add_row(department, *cells)
    console.print(view)
    owing = status_module.owing(table)
    for department, districts in owing.items():
        console.print(f"[yellow]待催报：[/]{department}（{'、'.join(districts)}）")
    if out:
        write_atomically(Path(out), report.status_workbook(table, book.title, datetime.now()))
        console.print(f"填报情况已写入 {out}")
    sys.exit(EXIT_PROBLEMS if owing else EXIT_CLEAN)


# ---- demo ---------------------------------------------------------------------------------

@main.command()
@click.option("-o", "--output", "out_dir", default="assess-xl-demo", show_default=True,
              type=click.Path(file_okay=False), help="演示文件写入的文件夹。")
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
    read, scores = run_collect([inbox], report_path, book)
    console.print(f"空白填报表：{out / '1-空白填报表'}（{len(blank)}个文件）")
    console.print(f"模拟交回的填报表：{inbox}")
    print_summary(read, scores, report_path)
    console.print("示例数据中故意含有几处填写错误和空白，用来展示“问题清单”。")
    sys.exit(EXIT_CLEAN)
