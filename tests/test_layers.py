"""The package's imports, read with ast: data flows one way (ARCHITECTURE.md), so a module imports only
its own package or those below it, nothing imports the two faces (cli/, console/), there is no circle,
and the command line holds no file, mail or workbook work."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import assess_xl

PACKAGE = Path(assess_xl.__file__).parent

# Lowest first. A module may import its own layer and those before it, never one after it.
LAYERS: list[set[str]] = [
    {"problems"},
    {"xlsx", "files"},
    {"rules"},
    {"read"},
    {"score"},
    {"publish"},
    {"pipeline", "run_options"},
    {"demo", "seal"},
    {"year"},
    {"yearwork"},
    {"cli", "console", "launch", "__init__"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
FACES = {"cli", "console", "launch"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(source: str, importer: str, is_package: bool = False) -> set[str]:
    """Every assess_xl module the source of `importer` imports, at the top or inside a function
    (`from a import b` counts as a.b when b is a module)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = resolve(importer, is_package, node)
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if is_module(sub) else module)
    return {name for name in found if name.startswith("assess_xl.") and name != importer}


def is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def top(name: str) -> str:
    return name.split(".")[1] if "." in name else "__init__"


def graph() -> dict[str, set[str]]:
    return {module_name(path): imported_modules(path.read_text(encoding="utf-8"), module_name(path),
                                                path.name == "__init__.py")
            for path in sorted(PACKAGE.rglob("*.py"))}


def upward_arrows(imports: dict[str, set[str]]) -> list[str]:
    return sorted(f"{importer} → {imported}" for importer, targets in imports.items() for imported in targets
                  if RANK[top(imported)] > RANK[top(importer)])


def test_every_module_has_a_layer():
    unplaced = {top(name) for name in graph()} - set(RANK)
    assert not unplaced, f"place these in LAYERS (and ARCHITECTURE.md): {unplaced}"


def test_no_module_imports_a_higher_layer():
    assert upward_arrows(graph()) == []


def test_the_check_sees_an_upward_arrow_even_inside_a_function():
    source = "def f():\n    from assess_xl.publish import scorecard\n    from .layout import name_key\n"
    imports = {"assess_xl.read.fetch": imported_modules(source, "assess_xl.read.fetch")}
    assert imports["assess_xl.read.fetch"] == {"assess_xl.publish.scorecard", "assess_xl.read.layout"}
    assert upward_arrows(imports) == ["assess_xl.read.fetch → assess_xl.publish.scorecard"]


def test_nothing_in_the_library_imports_the_faces():
    for importer, targets in graph().items():
        if top(importer) in FACES or importer == "assess_xl":
            continue
        assert not {t for t in targets if top(t) in FACES}, importer


def test_no_circle_between_modules():
    imports = graph()
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(imports.get(module, ())):
            if state.get(target) == 1:
                raise AssertionError("circle: " + " → ".join(trail[trail.index(target):] + [module, target]))
            if target not in state:
                visit(target, trail + [module])
        state[module] = 2

    for module in sorted(imports):
        if module not in state:
            visit(module, [])


def test_the_command_line_holds_no_file_mail_or_workbook_work():
    forbidden = re.compile(r"\bopen\(|smtplib|imaplib|imap_tools|xlsxwriter")
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        assert not forbidden.findall(path.read_text(encoding="utf-8")), path.name
