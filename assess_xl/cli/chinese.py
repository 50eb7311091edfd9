"""click in Chinese: help headings, wrapping by display width, the help option, usage errors."""
from __future__ import annotations

import inspect
import re
import unicodedata

import click

from assess_xl import problems as P
from assess_xl.problems import Code

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


# A docstring's line break between two Chinese characters (or full-width marks) is no space in the text.
_LINE_BREAK_IN_CHINESE = re.compile(r"(?<=[^\x00-\x7f])[ \t]*\n[ \t]*(?=[^\x00-\x7f])")


def wrap_display(text: str, width: int) -> list[str]:
    """Lines of at most `width` terminal columns; Latin words and option names are not split."""
    lines, line = [], ""
    for token in _TOKENS.findall(" ".join(_LINE_BREAK_IN_CHINESE.sub("", text).split())):
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


def chinese_help_option(option: click.Option | None) -> click.Option | None:
    """The help option's own text in Chinese, for commands and groups alike."""
    if option is not None:
        option.help = "显示本帮助并退出。"
    return option


class ChineseCommand(click.Command):
    context_class = ChineseContext

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or first_sentence(self.help)

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return chinese_help_option(super().get_help_option(ctx))


class ChineseGroup(click.Group):
    """A command group whose help is Chinese."""

    context_class = ChineseContext
    command_class = ChineseCommand
    group_class = type

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or first_sentence(self.help)

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        return chinese_help_option(super().get_help_option(ctx))


def usage_message(error: click.UsageError) -> str:
    """click's usage errors, said in Chinese (the catalogue's usage_* messages): which option or argument,
    what is wrong, where to look."""
    param = getattr(error, "param", None)
    name = "/".join(param.opts) if param is not None and getattr(param, "opts", None) else getattr(param, "name", "")
    if isinstance(param, click.Argument) and param.metavar:  # an argument is known by what --help calls it
        name = param.metavar.strip("[].")
    if isinstance(error, click.MissingParameter):
        missing = Code.USAGE_MISSING_OPTION if isinstance(param, click.Option) else Code.USAGE_MISSING_ARGUMENT
        return P.text(missing, name=name or error.param_hint)
    if isinstance(error, click.NoSuchOption):
        return P.text(Code.USAGE_NO_OPTION, name=error.option_name)
    if isinstance(error, click.BadParameter) and param is not None and isinstance(param.type, click.Choice):
        return P.text(Code.USAGE_BAD_CHOICE, name=name, choices="、".join(map(str, param.type.choices)))
    if isinstance(error, click.BadParameter):
        return bad_value_message(name or str(error.param_hint), error.message)
    if "No such command" in error.message:
        quote = chr(39)
        group = error.ctx.command if error.ctx is not None else None
        commands = "、".join(sorted(group.list_commands(error.ctx))) if isinstance(group, click.Group) and error.ctx else ""
        return P.text(Code.USAGE_NO_COMMAND, raw=error.message.split(quote)[1] if quote in error.message else error.message,
                      commands=commands)
    return P.text(Code.USAGE_OTHER, reason=error.message)


_KINDS = {"File": "文件", "Directory": "文件夹", "Path": "路径"}
_ACCESS = {"readable": "读取", "writable": "写入", "executable": "执行"}
_CLICK_REASONS: list[tuple[re.Pattern[str], Code]] = [
    (re.compile(r"^(?P<kind>File|Directory|Path) '(?P<path>.*)' does not exist\.$", re.S), Code.USAGE_PATH_MISSING),
    (re.compile(r"^(?P<kind>File|Directory|Path) '(?P<path>.*)' is a file\.$", re.S), Code.USAGE_PATH_IS_FILE),
    (re.compile(r"^(?P<kind>File|Directory|Path) '(?P<path>.*)' is a directory\.$", re.S), Code.USAGE_PATH_IS_FOLDER),
    (re.compile(r"^(?P<kind>File|Directory|Path) '(?P<path>.*)' is not (?P<access>readable|writable|executable)\.$",
                re.S), Code.USAGE_PATH_DENIED),
    (re.compile(r"^'?(?P<value>.*?)'? is not a valid (?:float|integer)( range)?\.$", re.S), Code.USAGE_NOT_NUMBER),
    (re.compile(r"^(?P<value>.*) is not in the range (?P<range>.*)\.$", re.S), Code.USAGE_OUT_OF_RANGE),
]


_BOUNDS = [(re.compile(r"^(\S+)<=x<=(\S+)$"), "在 {0} 到 {1} 之间"), (re.compile(r"^x>=(\S+)$"), "不小于 {0}"),
           (re.compile(r"^x<=(\S+)$"), "不大于 {0}"), (re.compile(r"^x>(\S+)$"), "大于 {0}"),
           (re.compile(r"^x<(\S+)$"), "小于 {0}")]


def range_in_words(bounds: str) -> str:
    """click's range notation (0<=x<=65535, x>=0.1) in words; other notations as click wrote them."""
    for pattern, words in _BOUNDS:
        found = pattern.match(bounds)
        if found:
            return words.format(*found.groups())
    return bounds


def bad_value_message(name: str, reason: str) -> str:
    """click's English reason for a bad value (a missing file, a word where a number goes, a number out of range)
    said in Chinese; a reason not known here is shown inside the general message rather than lost."""
    for pattern, code in _CLICK_REASONS:
        found = pattern.match(reason)
        if found:
            fields = found.groupdict()
            fields["kind"] = _KINDS.get(fields.get("kind") or "", "路径")
            fields["access"] = _ACCESS.get(fields.get("access") or "", "访问")
            fields["range"] = range_in_words(fields.get("range") or "")
            return P.text(code, name=name, **fields)
    return P.text(Code.USAGE_BAD_VALUE, name=name, reason=reason)
