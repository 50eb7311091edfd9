"""The rulebook as a workbook, in the manner of XLSForm, for the coordinator who writes next year's rules
in Excel: sheets 说明 (year, title, issuer, departments), 类别, 目标, 指标, 计分 (one row per scoring
component, its kind and parameters in columns) and 计分说明 (every kind, parameter and indicator type
with its meaning and an example). Each sheet has an explanation row under its header; kinds, types and
parameters are written by their Chinese names (ruleterms), with dropdowns and input prompts. Reading
accepts the Chinese names or the English keys (older workbooks). Export and import are exact:
YAML → xlsx → YAML keeps the fingerprint. Takes and returns data (the raw rulebook mapping and bytes)."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

from xlsxwriter.format import Format
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from assess_xl import problems as P
from assess_xl.rules.components import KINDS
from assess_xl.xlsx.layout import name_key
from assess_xl.xlsx.parse import SheetData
from assess_xl.xlsx.style import MemoryWorkbook, styles as house_styles
from assess_xl.rules.model import Raw, RulebookError, integral, parameters_of
from assess_xl.rules.terms import KINDS as KIND_TERMS, PARAMETERS, TYPES, Vocabulary
from assess_xl.problems import Code

ABOUT, CATEGORIES, TARGETS, INDICATORS, SCORING, HELP = "说明", "类别", "目标", "指标", "计分", "计分说明"
YES = "是"
ALTERNATIVE, ALTERNATIVE_NOTE = "另一种解读", "解读说明"  # the 计分 columns that hold `alternatives:`
Locator = Callable[[str], str]  # a column's key → where its cell is, for a message
LAST_ROW = 2000  # dropdowns and prompts reach this far down


class Column(NamedTuple):
    title: str
    key: str
    kind: str  # int, number, text, bool, list, param, term (a name from `terms`)
    note: str
    terms: Vocabulary | None = None


def _parameter_column(key: str) -> Column:
    term = PARAMETERS.terms[key]
    return Column(term.name, key, "param", f"{term.meaning}例：{term.example}")


COLUMNS = {
    CATEGORIES: [Column("编号", "number", "int", "类别序号，1、2、3……"), Column("名称", "name", "text", "类别名称"),
                 Column("分值", "points", "number", "类别分值；加分类不填"),
                 Column("加分类", "bonus", "bool", "加分类填“是”（不封顶，不计入基本分）"),
                 Column("说明", "note", "text", "对原表未写明之处的决定（可不填）")],
    TARGETS: [Column("编号", "number", "int", "目标序号"), Column("类别", "category", "int", "所属类别的编号"),
              Column("环保目标", "text", "text", "原表中的目标文字"), Column("考核细则", "rule", "text", "原表中的考核细则"),
              Column("分值", "max", "number", "满分；加分项目不填（不封顶）"),
              Column("基础分", "base", "number", "未扣分时的起点分（可不填）"),
              Column("原文标注分值", "stated_points", "number", "原表标注的分值与计分合计不同时填写（可不填）"),
              Column("说明", "note", "text", "对原表未写明之处的决定（可不填）")],
    INDICATORS: [Column("编号", "code", "text", "指标编号，如6-1；每个编号只能用一次"),
                 Column("目标", "target", "int", "所属目标的编号"),
                 Column("部门", "department", "text", "负责填报的部门（下拉选择）"),
                 Column("填报指标", "label", "text", "填报表上显示的指标名称"),
                 Column("类型", "type", "term", f"{'、'.join(TYPES.names())}（下拉选择；说明见“{HELP}”表）", TYPES),
                 Column("单位", "unit", "text", "如 例、个、万元（可不填）"), Column("下限", "min", "number", "可不填"),
                 Column("上限", "max", "number", "得分、扣分类必填"),
                 Column("选项", "options", "list", "选项类指标：每行一个选项"),
                 Column("空白按0", "blank_is_zero", "bool", "加分项目可不填时填“是”")],
    SCORING: [Column("指标编号", "indicator", "text", "计分方式所用的指标（指标表中的编号）"),
              Column("计分方式", "kind", "term", f"{'、'.join(KIND_TERMS.names())}（下拉选择；每种方式的作用、参数和例子见"
                                              f"“{HELP}”表）", KIND_TERMS),
              *[_parameter_column(key) for key in PARAMETERS.terms],
              Column(ALTERNATIVE, "alternative", "text", "空着：本细则的计分。填名称：这一行属于原表未写明之处的另一种解读"
                     "（只用于排名稳健性，不影响正式结果），同名的各行一起替换该目标的全部计分方式；计分方式空着表示此解读"
                     "下该指标不计分。例：目标2按分值6分折算"),
              Column(ALTERNATIVE_NOTE, "alternative_note", "text", "另一种解读的理由，写在它的第一行即可（可不填）。"
                     "例：细则各项合计5分而分值为6分")],
}
WIDE = ("环保目标", "考核细则", "说明")


def export(raw: Raw) -> bytes:
    """The raw rulebook (as loaded from YAML) as a workbook."""
    workbook = MemoryWorkbook()
    house = house_styles(workbook)
    styles = {"header": house["list_header"], "note": house["list_note"], "text": house["list_text_top"]}
    _write_about(workbook.add_worksheet(ABOUT), raw, styles["header"], styles["text"])
    rows = _rows(raw)
    departments = [str(d) for d in raw.get("departments") or []]
    for sheet_name, columns in COLUMNS.items():
        ws = workbook.add_worksheet(sheet_name)
        for col, column in enumerate(columns):
            ws.write_string(0, col, column.title, styles["header"])
            ws.write_string(1, col, column.note, styles["note"])
            ws.set_column(col, col, 40 if column.title in WIDE else 12)
        for r, row in enumerate(rows[sheet_name], start=2):
            for col, column in enumerate(columns):
                _write_cell(ws, r, col, row.get(column.key), column, styles["text"])
        ws.freeze_panes(2, 0)
        _validations(ws, sheet_name, columns, departments)
    _write_help(workbook.add_worksheet(HELP), styles)
    return workbook.content()


def _write_about(ws: Worksheet, raw: Raw, header: Format, text: Format) -> None:
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 80)
    ws.write_string(0, 0, "项目", header)
    ws.write_string(0, 1, "内容", header)
    rows = [("年度", raw.get("year")), ("标题", raw.get("title")), ("发文单位", raw.get("issuer"))]
    rows += [("部门", d) for d in raw.get("departments") or []]
    for r, (key, value) in enumerate(rows, start=1):
        ws.write_string(r, 0, key, text)
        _write_cell(ws, r, 1, value, Column(key, key, "int" if key == "年度" else "text", ""), text)
    guide = ["本工作簿是评分细则：改完后运行 assess-xl rules check 本文件.xlsx 检查，再用 forms --rules 本文件.xlsx 生成填报表。",
             "“部门”每行一个，顺序就是填报表中工作表的顺序。各表第2行是说明，第3行起是内容；不要改表头。",
             f"计分方式、参数和指标类型的含义和例子见“{HELP}”表；在单元格上也有提示。"]
    for r, line in enumerate(guide, start=len(rows) + 2):
        ws.write_string(r, 0, "说明", text)
        ws.write_string(r, 1, line, text)


def _write_cell(ws: Worksheet, r: int, c: int, value: Any, column: Column, style: Format) -> None:
    if value is None:
        return
    if column.terms is not None:
        ws.write_string(r, c, column.terms.name(value), style)
    elif column.kind == "bool":
        ws.write_string(r, c, YES if value else "否", style)
    elif column.kind == "list":
        ws.write_string(r, c, "\n".join(str(v) for v in value), style)
    elif isinstance(value, dict):
        ws.write_string(r, c, "\n".join(f"{k}={v}" for k, v in value.items()), style)
    elif isinstance(value, bool):
        ws.write_string(r, c, YES if value else "否", style)
    elif isinstance(value, (int, float)):
        ws.write_number(r, c, value, style)
    else:
        ws.write_string(r, c, str(value), style)


def _rows(raw: Raw) -> dict[str, list[Raw]]:
    rows: dict[str, list[Raw]] = {CATEGORIES: list(raw.get("categories") or []), TARGETS: [], INDICATORS: [], SCORING: []}
    for target in raw.get("targets") or []:
        rows[TARGETS].append(target)
        for indicator in target.get("indicators") or []:
            rows[INDICATORS].append({**indicator, "target": target.get("number")})
            for component in indicator.get("scoring") or []:
                rows[SCORING].append({**component, "indicator": indicator.get("code")})
    rows[SCORING] += _alternative_rows(raw)
    return rows


def _alternative_rows(raw: Raw) -> list[Raw]:
    """Each alternative reading as 计分 rows after the rulebook's own: one per component, named in 另一种解读,
    its note on its first row; an indicator it leaves unscored is a row without a kind."""
    first_code = {target.get("number"): str((target.get("indicators") or [{}])[0].get("code", ""))
                  for target in raw.get("targets") or []}
    out: list[Raw] = []
    for alternative in raw.get("alternatives") or []:
        scoring = alternative.get("scoring") or {first_code.get(alternative.get("target"), ""): []}
        rows = [{**component, "indicator": code} for code, components in scoring.items()
                for component in (components or [{}])]
        rows[0]["alternative_note"] = alternative.get("note")
        out += [{**row, "alternative": alternative.get("name")} for row in rows]
    return out


def _validations(ws: Worksheet, sheet_name: str, columns: list[Column], departments: list[str]) -> None:
    """Dropdowns by the Chinese names; on 计分 every parameter column prompts its meaning and example."""
    lists = {"部门": departments, "加分类": [YES, "否"], "空白按0": [YES, "否"], "得分条件": [YES, "否"],
             "否决条件": [YES, "否"]}
    for col, column in enumerate(columns):
        options = column.terms.names() if column.terms is not None else lists.get(column.title)
        rule: dict[str, Any] = {"validate": "list", "source": options} if options else {"validate": "any"}
        if options and len(",".join(options)) > 255:  # Excel's limit for a literal list: no dropdown then
            rule = {"validate": "any"}
        if column.kind == "param":
            term = PARAMETERS.terms[column.key]
            rule.update(input_title=term.name, input_message=f"{term.meaning}\n例：{term.example}")
        elif column.terms is not None:
            rule.update(input_title=column.title, input_message=f"请从下拉列表选择。含义和例子见“{HELP}”表。")
        elif column.title in (ALTERNATIVE, ALTERNATIVE_NOTE):
            rule.update(input_title=column.title, input_message=column.note.replace("例：", "\n例："))
        if rule["validate"] == "any" and "input_message" not in rule:
            continue
        if ws.data_validation(2, col, LAST_ROW, col, rule) != 0:
            raise ValueError(f"data validation refused for {sheet_name}!{column.title}")


def _write_help(ws: Worksheet, styles: dict[str, Format]) -> None:
    """计分说明: every kind (the types it suits and its parameters), parameter (the kinds using it) and
    indicator type (the kinds that score it), each with its meaning and an example."""
    for col, (title, width) in enumerate((("项目", 10), ("名称", 14), ("说明", 60), ("例", 40), ("适用于", 40))):
        ws.write_string(0, col, title, styles["header"])
        ws.set_column(col, col, width)
    for r, cells in enumerate(help_rows(), start=1):
        for col, value in enumerate(cells):
            ws.write_string(r, col, value, styles["text"])
    ws.freeze_panes(1, 0)


def help_rows() -> list[tuple[str, str, str, str, str]]:
    rows = []
    for key, term in KIND_TERMS.terms.items():
        required = KINDS[key].required
        parameters = "、".join(PARAMETERS.name(p) + ("（必填）" if p in required else "") for p in parameters_of(key))
        types = "、".join(TYPES.name(t) for t in TYPES.terms if t in KINDS[key].types)
        rows.append(("计分方式", term.name, term.meaning, term.example,
                     f"指标类型：{types}；参数：{parameters or '无'}"))
    for key, term in PARAMETERS.terms.items():
        users = "、".join(KIND_TERMS.name(k) for k in KIND_TERMS.terms if key in parameters_of(k))
        rows.append(("参数", term.name, term.meaning, term.example, f"计分方式：{users}"))
    for key, term in TYPES.terms.items():
        users = "、".join(KIND_TERMS.name(k) for k in KIND_TERMS.terms if key in KINDS[k].types)
        rows.append(("指标类型", term.name, term.meaning, term.example, f"计分方式：{users}"))
    return rows


# ---- import -----------------------------------------------------------------------------------

def import_sheets(sheets: dict[str, SheetData], where: str) -> Raw:
    """Parsed sheets (name → rows) → the raw rulebook mapping; every structural error names its sheet,
    row and column, all collected before raising."""
    errors: list[P.Problem] = []
    raw = _about(sheets.get(ABOUT), where, errors)
    tables = {name: _table(sheets.get(name), name, where, errors) for name in COLUMNS}
    raw["categories"] = [row for row, _ in tables[CATEGORIES]]
    targets: dict[Any, Raw] = {}
    for row, _at in tables[TARGETS]:
        targets[row.get("number")] = {**row, "indicators": []}
    codes: dict[str, str] = {}
    indicators: dict[str, Raw] = {}
    targets_of: dict[str, Any] = {}
    for row, at in tables[INDICATORS]:
        code = str(row.get("code", ""))
        if code in codes:
            errors.append(P.make(Code.RULE_SHEET_DUPLICATE_CODE, at=at("code"), code=code, first=codes[code]))
            continue
        codes[code] = at("code")
        target = row.pop("target", None)
        if target not in targets:
            errors.append(P.make(Code.RULE_SHEET_REFERENCE, at=at("target"), value=target, sheet=TARGETS))
            continue
        indicators[code] = {**row, "scoring": []}
        targets_of[code] = target
        targets[target]["indicators"].append(indicators[code])
    readings = Readings(targets_of)
    for row, at in tables[SCORING]:
        name, note = row.pop("alternative", None), row.pop("alternative_note", None)
        if name is None and note is not None:
            errors.append(P.make(Code.RULE_SHEET_ALTERNATIVE_NAME, at=at("alternative_note")))
        elif name is None:
            _component(row, at, indicators, errors)
        else:
            readings.add(str(name), note, row, at, errors)
    raw["targets"] = list(targets.values())
    if readings.alternatives:
        raw["alternatives"] = list(readings.alternatives.values())
    if errors:
        raise RulebookError(*errors)
    return raw


class Readings:
    """The alternative readings written on 计分 rows (另一种解读, 解读说明), gathered into `alternatives:`
    entries in the order first named; each replaces the components of one target."""

    def __init__(self, targets_of: dict[str, Any]):
        self.targets_of = targets_of  # indicator code → its target number
        self.alternatives: dict[str, Raw] = {}
        self.target_at: dict[str, str] = {}  # name → the cell that set its target
        self.note_at: dict[str, str] = {}  # name → the cell that gave its note

    def add(self, name: str, note: Any, row: Raw, at: Locator, errors: list[P.Problem]) -> None:
        code = str(row.get("indicator", ""))
        if code not in self.targets_of:
            errors.append(P.make(Code.RULE_SHEET_REFERENCE, at=at("indicator"), value=code, sheet=INDICATORS))
            return
        if name not in self.alternatives:
            self.alternatives[name] = {"name": name, "target": self.targets_of[code], "scoring": {}}
            self.target_at[name] = at("indicator")
        entry = self.alternatives[name]
        if self.targets_of[code] != entry["target"]:
            errors.append(P.make(Code.RULE_SHEET_ALTERNATIVE_TARGET, at=at("indicator"), name=name, code=code,
                                 target=self.targets_of[code], first=entry["target"], where=self.target_at[name]))
            return
        if note is not None and "note" not in entry:
            entry["note"], self.note_at[name] = str(note), at("alternative_note")
        elif note is not None and entry["note"] != str(note):
            errors.append(P.make(Code.RULE_SHEET_ALTERNATIVE_NOTE, at=at("alternative_note"), name=name,
                                 first=self.note_at[name]))
        scoring = entry["scoring"].setdefault(code, [])
        if set(row) != {"indicator"}:  # a row with only the code: the indicator is not scored under this reading
            _component(row, at, {code: {"scoring": scoring}}, errors)


def _component(row: Raw, at: Locator, into: dict[str, Raw], errors: list[P.Problem]) -> None:
    """A 计分 row checked against its kind's parameters and added to its indicator's scoring in `into`."""
    code = str(row.pop("indicator", ""))
    kind = row.get("kind")
    if code not in into:
        errors.append(P.make(Code.RULE_SHEET_REFERENCE, at=at("indicator"), value=code, sheet=INDICATORS))
        return
    if kind is None:
        errors.append(P.make(Code.RULE_SHEET_KIND_MISSING, at=at("kind")))
        return
    if kind not in KINDS:
        return  # already reported by the cell's name
    own = parameters_of(kind)
    label = KIND_TERMS.label(kind)
    for name in sorted(set(row) - {"kind"} - set(own), key=list(PARAMETERS.terms).index):
        errors.append(P.make(Code.RULE_PARAMETER_UNKNOWN, at=at(name), kind=label, names=PARAMETERS.label(name),
                             allowed="、".join(map(PARAMETERS.name, own)) or "（没有参数，请清空这些单元格）"))
    missing = [name for name in own if name in KINDS[kind].required and name not in row]
    for name in missing:
        errors.append(P.make(Code.RULE_PARAMETER_MISSING, at=at(name), kind=label, names=PARAMETERS.label(name)))
    if not missing and set(row) - {"kind"} <= set(own):
        into[code]["scoring"].append(row)


def _about(sheet: SheetData | None, where: str, errors: list[P.Problem]) -> Raw:
    raw: Raw = {"departments": []}
    if sheet is None:
        errors.append(P.make(Code.RULE_SHEET_MISSING, at=where, sheet=ABOUT))
        return raw
    keys = {"年度": "year", "标题": "title", "发文单位": "issuer"}
    for row in sheet.rows[1:]:
        cells = (list(row) + ["", ""])[:2]
        label, value = str(cells[0]).strip(), integral(cells[1])
        if label == "部门" and value not in (None, ""):
            raw["departments"].append(str(value))
        elif label in keys and value not in (None, ""):
            raw[keys[label]] = value
    return raw


def _table(sheet: SheetData | None, name: str, where: str, errors: list[P.Problem]) -> list[tuple[Raw, Locator]]:
    """The rows of one sheet as mappings (empty cells omitted, names turned into keys), each with a
    locator of its cells. A header may be the Chinese title or the English key (older workbooks)."""
    if sheet is None:
        errors.append(P.make(Code.RULE_SHEET_MISSING, at=where, sheet=name))
        return []
    positions = _positions(sheet, name, where, errors)
    out = []
    for number, row in enumerate(sheet.rows[2:], start=3):
        at = _locator(where, name, number, positions)
        values: Raw = {}
        for col, column in positions.values():
            value = _typed(row[col] if col < len(row) else "", column.kind)
            if value is not None and column.terms is not None:
                value = _key_of(value, column, at, errors)
            if value is not None:
                values[column.key] = value
        if values:
            out.append((values, at))
    return out


def _positions(sheet: SheetData, name: str, where: str, errors: list[P.Problem]) -> dict[str, tuple[int, Column]]:
    """Each known column's position by its key. On 计分 a header that names no parameter is an error:
    its values would otherwise be dropped and the scores silently change."""
    by_name = {name_key(written): column for column in COLUMNS[name] for written in (column.title, column.key)}
    positions: dict[str, tuple[int, Column]] = {}
    for col, cell in enumerate(sheet.rows[0] if sheet.rows else []):
        column = by_name.get(name_key(cell))
        if column is not None and column.key not in positions:
            positions[column.key] = (col, column)
        elif column is None and name == SCORING and str(cell).strip():
            errors.append(P.make(Code.RULE_SHEET_HEADER_UNKNOWN, at=_cell_at(where, name, 0, col, "表头"), header=cell,
                                 names="、".join(c.title for c in COLUMNS[name])))
    return positions


def _key_of(written: Any, column: Column, at: Locator, errors: list[P.Problem]) -> Any:
    """The English key of a name typed in a kind or type cell; unknown names are reported (and kept)."""
    assert column.terms is not None
    key = column.terms.key(written)
    if key is None:
        errors.append(P.make(Code.RULE_SHEET_NAME_UNKNOWN, at=at(column.key), value=written, what=column.terms.what,
                             names="、".join(column.terms.names())))
        return written
    return key


def _cell_at(where: str, sheet: str, row: int, col: int, title: str) -> str:
    return f"{where}，工作表“{sheet}”单元格{xl_rowcol_to_cell(row, col)}（{title}）"


def _locator(where: str, sheet: str, row: int, positions: dict[str, tuple[int, Column]]) -> Locator:
    def at(key: str) -> str:
        if key in positions:
            col, column = positions[key]
            return _cell_at(where, sheet, row - 1, col, column.title)
        title = next((c.title for c in COLUMNS[sheet] if c.key == key), key)
        return f"{where}，工作表“{sheet}”第{row}行（没有“{title}”列）"
    return at


def _typed(cell: Any, kind: str) -> Any:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if kind == "bool":
        return str(cell).strip() == YES or cell is True
    if kind == "list":
        return [line.strip() for line in str(cell).splitlines() if line.strip()]
    if kind == "param" and isinstance(cell, str) and "=" in cell:
        pairs = [line.split("=", 1) for line in cell.splitlines() if "=" in line]
        return {key.strip(): integral(_number_text(value.strip())) for key, value in pairs}
    if kind == "text":
        return cell if isinstance(cell, str) else integral(cell)
    return integral(cell)


def _number_text(text: str) -> str | float:
    try:
        number = float(text)
    except ValueError:
        return text
    return number


