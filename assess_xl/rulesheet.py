"""The rulebook as a workbook, in the manner of XLSForm, for the coordinator who writes next year's rules
in Excel: sheets 说明 (year, title, issuer, departments), 类别, 目标, 指标 and 计分 (one row per scoring
component, its kind and parameters in columns), each with an explanation row under its header and
dropdowns for kinds, types and departments. Export and import are exact: YAML → xlsx → YAML keeps
the fingerprint. Takes and returns data (the raw rulebook mapping and workbook bytes)."""
from __future__ import annotations

import io
from typing import Callable

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from . import problems as P
from .components import KINDS
from .layout import FONT, WORKBOOK_OPTIONS
from .rulebook import INDICATOR_TYPES, RulebookError, integral

ABOUT, CATEGORIES, TARGETS, INDICATORS, SCORING = "说明", "类别", "目标", "指标", "计分"
YES = "是"
PARAMETERS = sorted({name for kind in KINDS.values() for name in kind.required | kind.optional})

# sheet → [(header, key, kind, explanation)]; kind: int, number, text, bool, list
COLUMNS = {
    CATEGORIES: [("编号", "number", "int", "类别序号，1、2、3……"), ("名称", "name", "text", "类别名称"),
                 ("分值", "points", "number", "类别分值；加分类不填"), ("加分类", "bonus", "bool", "加分类填“是”（不封顶，不计入基本分）"),
                 ("说明", "note", "text", "对原表未写明之处的决定（可不填）")],
    TARGETS: [("编号", "number", "int", "目标序号"), ("类别", "category", "int", "所属类别的编号"),
              ("环保目标", "text", "text", "原表中的目标文字"), ("考核细则", "rule", "text", "原表中的考核细则"),
              ("分值", "max", "number", "满分；加分项目不填（不封顶）"), ("基础分", "base", "number", "未扣分时的起点分（可不填）"),
              ("原文标注分值", "stated_points", "number", "原表标注的分值与计分合计不同时填写（可不填）"),
              ("说明", "note", "text", "对原表未写明之处的决定（可不填）")],
    INDICATORS: [("编号", "code", "text", "指标编号，如6-1；每个编号只能用一次"), ("目标", "target", "int", "所属目标的编号"),
                 ("部门", "department", "text", "负责填报的部门（下拉选择）"), ("填报指标", "label", "text", "填报表上显示的指标名称"),
                 ("类型", "type", "text", "bool/count/percent/amount/score/deduction/choice（下拉选择）"),
                 ("单位", "unit", "text", "如 例、个、万元（可不填）"), ("下限", "min", "number", "可不填"),
                 ("上限", "max", "number", "得分、扣分类必填"), ("选项", "options", "list", "选项类指标：每行一个选项"),
                 ("空白按0", "blank_is_zero", "bool", "加分项目可不填时填“是”")],
    SCORING: [("指标编号", "indicator", "text", "计分方式所用的指标（指标表中的编号）"),
              ("计分方式", "kind", "text", "award/per_unit/ratio/threshold/shortfall_steps/option/gate/entered_score/"
                                     "entered_deduction（下拉选择）"),
              *[(name, name, "param", _PARAM_NOTES) for name, _PARAM_NOTES in
                [(n, "计分参数：数字（可写分数如5/3）；option 的 points 每行写“选项=分值”") for n in PARAMETERS]]],
}


def export(raw: dict) -> bytes:
    """The raw rulebook (as loaded from YAML) as a workbook."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, WORKBOOK_OPTIONS)
    header = workbook.add_format({"font_name": FONT, "bold": True, "bg_color": "#D9E1F2", "border": 1})
    note = workbook.add_format({"font_name": FONT, "italic": True, "font_color": "#595959", "text_wrap": True,
                                "bg_color": "#F2F2F2", "border": 1, "valign": "top"})
    text = workbook.add_format({"font_name": FONT, "text_wrap": True, "valign": "top", "border": 1})
    _write_about(workbook.add_worksheet(ABOUT), raw, header, text)
    rows = _rows(raw)
    departments = [str(d) for d in raw.get("departments") or []]
    for sheet_name, columns in COLUMNS.items():
        ws = workbook.add_worksheet(sheet_name)
        for col, (title, _key, _kind, explanation) in enumerate(columns):
            ws.write_string(0, col, title, header)
            ws.write_string(1, col, explanation, note)
            ws.set_column(col, col, 40 if title in ("环保目标", "考核细则", "说明") else 12)
        for r, row in enumerate(rows[sheet_name], start=2):
            for col, (_title, key, kind, _e) in enumerate(columns):
                _write_cell(ws, r, col, row.get(key), kind, text)
        ws.freeze_panes(2, 0)
        _validations(ws, sheet_name, columns, departments)
    workbook.close()
    return buffer.getvalue()


def _write_about(ws, raw: dict, header, text) -> None:
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 80)
    ws.write_string(0, 0, "项目", header)
    ws.write_string(0, 1, "内容", header)
    rows = [("年度", raw.get("year")), ("标题", raw.get("title")), ("发文单位", raw.get("issuer"))]
    rows += [("部门", d) for d in raw.get("departments") or []]
    for r, (key, value) in enumerate(rows, start=1):
        ws.write_string(r, 0, key, text)
        _write_cell(ws, r, 1, value, "int" if key == "年度" else "text", text)
    guide = ["本工作簿是评分细则：改完后运行 assess-xl rules check 本文件.xlsx 检查，再用 forms --rules 本文件.xlsx 生成填报表。",
             "“部门”每行一个，顺序就是填报表中工作表的顺序。各表第2行是说明，第3行起是内容；不要改表头。"]
    for r, line in enumerate(guide, start=len(rows) + 2):
        ws.write_string(r, 0, "说明", text)
        ws.write_string(r, 1, line, text)


def _write_cell(ws, r, c, value, kind, style) -> None:
    if value is None:
        return
    if kind == "bool":
        ws.write_string(r, c, YES if value else "否", style)
    elif kind == "list":
        ws.write_string(r, c, "\n".join(str(v) for v in value), style)
    elif isinstance(value, dict):
        ws.write_string(r, c, "\n".join(f"{k}={v}" for k, v in value.items()), style)
    elif isinstance(value, bool):
        ws.write_string(r, c, YES if value else "否", style)
    elif isinstance(value, (int, float)):
        ws.write_number(r, c, value, style)
    else:
        ws.write_string(r, c, str(value), style)


def _rows(raw: dict) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {CATEGORIES: list(raw.get("categories") or []), TARGETS: [], INDICATORS: [], SCORING: []}
    for target in raw.get("targets") or []:
        rows[TARGETS].append(target)
        for indicator in target.get("indicators") or []:
            rows[INDICATORS].append({**indicator, "target": target.get("number")})
            for component in indicator.get("scoring") or []:
                rows[SCORING].append({**component, "indicator": indicator.get("code")})
    return rows


def _validations(ws, sheet_name, columns, departments) -> None:
    lists = {("类型", INDICATORS): list(INDICATOR_TYPES), ("计分方式", SCORING): list(KINDS),
             ("部门", INDICATORS): departments, ("加分类", CATEGORIES): [YES, "否"], ("空白按0", INDICATORS): [YES, "否"]}
    for col, (title, *_rest) in enumerate(columns):
        options = lists.get((title, sheet_name))
        if options and len(",".join(options)) <= 255:
            ws.data_validation(2, col, 2000, col, {"validate": "list", "source": options})


# ---- import -----------------------------------------------------------------------------------

def import_sheets(sheets: dict, where: str) -> dict:
    """Parsed sheets (name → rows) → the raw rulebook mapping; every structural error names its sheet,
    row and column, all collected before raising."""
    errors: list[str] = []
    raw = _about(sheets.get(ABOUT), where, errors)
    tables = {name: _table(sheets.get(name), name, where, errors) for name in COLUMNS}
    raw["categories"] = [row for row, _ in tables[CATEGORIES]]
    targets = {}
    for row, _at in tables[TARGETS]:
        targets[row.get("number")] = {**row, "indicators": []}
    codes: dict[str, str] = {}
    indicators = {}
    for row, at in tables[INDICATORS]:
        code = str(row.get("code", ""))
        if code in codes:
            errors.append(P.text("rule_sheet_duplicate_code", at=at("code"), code=code, first=codes[code]))
            continue
        codes[code] = at("code")
        target = row.pop("target", None)
        if target not in targets:
            errors.append(P.text("rule_sheet_reference", at=at("target"), value=target, sheet=TARGETS))
            continue
        indicators[code] = {**row, "scoring": []}
        targets[target]["indicators"].append(indicators[code])
    for row, at in tables[SCORING]:
        _component(row, at, indicators, errors)
    raw["targets"] = list(targets.values())
    if errors:
        raise RulebookError(errors)
    return raw


def _component(row: dict, at, indicators: dict, errors: list[str]) -> None:
    code = str(row.pop("indicator", ""))
    kind = row.get("kind")
    if code not in indicators:
        errors.append(P.text("rule_sheet_reference", at=at("indicator"), value=code, sheet=INDICATORS))
        return
    if kind not in KINDS:
        errors.append(P.text("rule_kind_unknown", at=at("kind"), kind=kind, kinds="、".join(KINDS)))
        return
    missing = sorted(KINDS[kind].required - set(row))
    for name in missing:
        errors.append(P.text("rule_parameter_missing", at=at(name), kind=kind, names=name))
    if not missing:
        indicators[code]["scoring"].append(row)


def _about(sheet, where: str, errors: list[str]) -> dict:
    raw: dict = {"departments": []}
    if sheet is None:
        errors.append(P.text("rule_sheet_missing", at=where, sheet=ABOUT))
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


def _table(sheet, name: str, where: str, errors: list[str]) -> list[tuple[dict, Callable[[str], str]]]:
    """The rows of one sheet as mappings (empty cells omitted), each with a locator of its cells."""
    if sheet is None:
        errors.append(P.text("rule_sheet_missing", at=where, sheet=name))
        return []
    columns = COLUMNS[name]
    header = [str(c).strip() for c in (sheet.rows[0] if sheet.rows else [])]
    positions = {}
    for title, key, kind, _note in columns:
        if title in header:
            positions[key] = (header.index(title), kind, title)
    out = []
    for number, row in enumerate(sheet.rows[2:], start=3):
        values = {}
        for key, (col, kind, _title) in positions.items():
            value = _typed(row[col] if col < len(row) else "", kind)
            if value is not None:
                values[key] = value
        if values:
            out.append((values, _locator(where, name, number, positions)))
    return out


def _locator(where: str, sheet: str, row: int, positions: dict):
    def at(key: str) -> str:
        col, _kind, title = positions.get(key, (None, None, key))
        column = f"{xl_col_to_name(col)}列（{title}）" if col is not None else f"“{title}”列"
        return f"{where}，工作表“{sheet}”第{row}行{column}"
    return at


def _typed(cell, kind: str):
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


def _number_text(text: str):
    try:
        number = float(text)
    except ValueError:
        return text
    return number


