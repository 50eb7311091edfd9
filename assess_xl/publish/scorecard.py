"""The consolidated scorecard (xlsxwriter, in memory): 汇总, one sheet per district, 得分明细,
问题清单 and 来源. Text that came from users is always written as text, never as a formula or link."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

import pandas as pd

from assess_xl.score import previous as previous_module
from assess_xl.score import robustness
from assess_xl.xlsx import childsheets, printfit
from assess_xl.xlsx.layout import (BAD_SHEET_CHARS, FILES_COLUMN, RESULT_META_SHEET, SCORECARD_SHEETS, STATUS_SHEET, printable)
from assess_xl.xlsx.collector import collection_paused
from assess_xl.xlsx.style import (FONT, MemoryWorkbook, print_setup, styles as house_styles,
                                  write_result_metadata)
from assess_xl.read.cells import refusal
from assess_xl.read.merge import ReadResult
from assess_xl.problems import Problem
from assess_xl.rules.components import Indicator, fmt_number
from assess_xl.rules.model import Category, Rulebook, Target
from assess_xl.score.scoring import MISSING, Scores

SUMMARY, DETAIL, PROBLEMS, SOURCES = SCORECARD_SHEETS
NOTES, ADJUSTMENTS, ROBUSTNESS = "评分说明", "调整记录", "排名稳健性"
WORKING_SHEETS = (DETAIL, PROBLEMS, SOURCES, NOTES, ROBUSTNESS, ADJUSTMENTS)
ROBUSTNESS_HEADERS = ["项目", "名次", "区", "对比区", "分差", "决定差距的目标", "说明"]
FIXED_SHEETS = (*SCORECARD_SHEETS, NOTES, ROBUSTNESS, ADJUSTMENTS, RESULT_META_SHEET)
ADJUSTMENT_HEADERS = ["区", "编号", "指标", "原值", "新值", "理由", "经办人", "日期", "调整表行"]
WORKING_MARK = "工作表：内部核对用，不对外发布"
CHART_WIDTH = 640  # pixels: the chart of 汇总, from column A


@dataclass(frozen=True)
class Signature:
    """Who issues the result, and when: printed on the official sheets."""
    issuer: str
    date: str


def chinese_date(moment: datetime) -> str:
    return f"{moment.year}年{moment.month}月{moment.day}日"


def _working(ws):
    """Working sheets: grey tab and a printed mark, so nobody mistakes them for the result."""
    ws.set_tab_color("#A6A6A6")
    return ws
PROBLEM_HEADERS = ["级别", "文件", "工作表", "单元格", "区", "编号", "说明", "原始值"]
DETAIL_HEADERS = ["区", "目标编号", "得分", "状态", "分值", "得分说明"]
SOURCE_HEADERS = ["文件", "SHA-256", "大小（字节）", "保存时间", "文件修改时间", "格式", "处理结果",
                  "提供数据的部门", "未填写的部门", "被较晚文件覆盖的值", "说明"]


def safe_sheet_names(districts: list[str], reserved=FIXED_SHEETS) -> dict[str, str]:
    """District → a valid, unique sheet name (≤31 characters, no []:*?/\\, not a fixed sheet)."""
    taken = {name.lower() for name in reserved}
    out = {}
    for district in districts:
        base = BAD_SHEET_CHARS.sub("_", district).strip().strip("'") or "区"
        base = base[:31]
        name, n = base, 2
        while name.lower() in taken or name.lower() == "history":
            suffix = f"({n})"
            name, n = base[: 31 - len(suffix)] + suffix, n + 1
        taken.add(name.lower())
        out[district] = name
    return out


@collection_paused()
def build(book: Rulebook, scores: Scores, explanations: pd.DataFrame, read: ReadResult,
          generated: datetime, issuer: str | None = None, previous=None,
          robust: robustness.Robustness | Callable[[], robustness.Robustness] | None = None) -> bytes:
    """The scorecard: the official sheets (汇总, one per district) read as a document; the working
    sheets (得分明细, 问题清单, 来源, 评分说明) are marked as such and are not part of the PDF. A share of the
    district sheets is written on the other core (xlsx.childsheets); should that fail, the scorecard is
    written again in this process alone, the same bytes either way. `robust` (排名稳健性) may be given as a
    function that works it out: it is called once the child is writing its share, so that the two overlap
    (pipeline.collect passes one that keeps its answer, and takes the answer after)."""
    if callable(robust):
        robust = functools.cache(robust)  # once, should the scorecard be written again
    try:
        return _build(book, scores, explanations, read, generated, issuer, previous, robust, DISTRICTS_BESIDE)
    except childsheets.ChildFailed:
        return _build(book, scores, explanations, read, generated, issuer, previous, robust, 0.0)


DISTRICTS_BESIDE = 0.64  # the share of the district sheets a forked child writes (it also assembles and deflates them)
FORK_FROM = 30  # districts: a smaller scorecard is written sooner in one process


def _build(book, scores, explanations, read, generated, issuer, previous, robust, beside_share: float) -> bytes:
    workbook = MemoryWorkbook(nan_inf_to_errors=False)
    workbook.set_properties({"title": book.document_title("考核结果"), "author": issuer or book.issuer,
                             "created": generated})
    styles = house_styles(workbook)
    names = safe_sheet_names(scores.districts)
    reported = ReportedTexts(book, read)
    signed = Signature(issuer or book.issuer, chinese_date(generated))
    shared = district_sheet_rows(book, scores, explanations)
    _write_summary(workbook, book, scores, shared, signed, styles, previous)
    sheets = [(district, workbook.add_worksheet(names[district]))
              for district in scores.totals.sort_values(["排名"], kind="stable").index]

    def write_districts(pairs: list[tuple[str, Any]]) -> None:
        for district, ws in pairs:
            _write_district(ws, book, shared, district, reported, styles, signed, previous)

    share = beside_share if len(sheets) >= FORK_FROM else 0.0
    with childsheets.written_beside(workbook, sheets, write_districts, share) as beside:
        robust = robust() if callable(robust) else robust  # while the child writes its sheets
        write_districts(beside.mine)
        _write_working_sheets(workbook, book, scores, shared, read, styles, robust)
        write_result_metadata(workbook, {"kind": "scorecard", "year": str(book.year), "fingerprint": book.fingerprint,
                                         "generated_at": generated.isoformat(),
                                         **previous_module.metadata_rows(book, scores, read.values)})
        beside.join()
        return workbook.content()


def _write_working_sheets(workbook, book, scores, shared: DistrictSheetRows, read: ReadResult, styles, robust) -> None:
    """得分明细, 问题清单, 来源, 评分说明, and 排名稳健性 and 调整记录 when there are any."""
    _write_detail(_working(workbook.add_worksheet(DETAIL)), book, scores, shared, styles)
    _write_problems(_working(workbook.add_worksheet(PROBLEMS)), read.problems, styles)
    _write_sources(_working(workbook.add_worksheet(SOURCES)), read, styles)
    _write_notes(_working(workbook.add_worksheet(NOTES)), book, styles)
    if robust is not None:
        write_table(_working(workbook.add_worksheet(ROBUSTNESS)), ROBUSTNESS_HEADERS, robustness_rows(book, robust),
                    [16, 8, 12, 12, 8, 40, 90], styles)
    if read.adjustments_file:
        rows = [[r["区"], r["编号"], r["指标"], r["原值"], r["新值"], r["理由"], r["经办人"], r["日期"], r["行"]]
                for r in read.adjustments]
        ws = _working(workbook.add_worksheet(ADJUSTMENTS))
        write_table(ws, ADJUSTMENT_HEADERS, rows, [12, 7, 24, 12, 12, 40, 10, 12, 8], styles)
        ws.set_header(f"&C{WORKING_MARK}")


def robustness_rows(book: Rulebook, robust) -> list[list]:
    """排名稳健性: each neighbouring pair, the 缺报 items that could move a rank, each alternative reading."""
    rows: list[list] = []
    for pair in robust.pairs:
        said = (robustness.change_sentence(pair.smallest, book) if pair.smallest
                else "任何单个填报值在搜索范围内改动都不能使二者互换")
        rows.append(["相邻名次", f"{pair.upper_rank}/{pair.lower_rank}", pair.upper, pair.lower, pair.margin,
                     robustness.deciding_text(pair, book), said])
    for flag in robust.missing:
        rows.append(["缺报可能改变名次", flag.rank, flag.district, "", "", flag.code, robustness.missing_text(flag, book)])
    for alternative in robust.alternatives:
        moved = "、".join(alternative.moved) or "无"
        label = f"另一种解读：{alternative.name}"
        rows.append([label, "", "", "", "", f"目标{alternative.target}",
                     f"{alternative.note}{'；' if alternative.note else ''}名次变化的区：{moved}"])
        rows += [[label, int(robust.ranks[d]), d, "", "", "", f"按此解读第{int(alternative.ranks[d])}名"
                  + ("（名次变化）" if d in alternative.moved else "")]
                 for d in robust.ranks.sort_values(kind="stable").index]
    return rows


def _write_notes(ws, book, styles):
    """The coordinator's decisions where the source table is silent or inconsistent (rulebook notes),
    then, once, each target whose scoring items cannot reach its 分值 (not a loss of any district)."""
    rows = [[_category_label(c), "", c.note] for c in book.categories if c.note]
    rows += [[_category_label(book.category(t.category)), t.number, t.note] for t in book.targets if t.note]
    rows += [[_category_label(book.category(t.category)), t.number, text] for t, text in points_out_of_reach(book)]
    write_table(ws, ["类别", "目标编号", "评分说明"], rows, [16, 8, 100], styles)
    ws.set_header(f"&C{WORKING_MARK}")


def points_out_of_reach(book: Rulebook) -> list[tuple[Target, str]]:
    """Each target whose 分值 exceeds what its scoring items can give, said neutrally: the gap is
    the rulebook's, so it is explained where the rules are, never listed as a district's 扣分."""
    return [(target, f"目标{target.number}分值{fmt_number(target.max or 0.0)}分，评分细则各项合计最多{fmt_number(most)}分，"
                     f"各区在本目标最多可得{fmt_number(most)}分；未达分值的{fmt_number((target.max or 0) - most)}分"
                     f"不是扣分。") for target, most in book.short_of_points()]


def _category_label(category) -> str:
    return f"{category.number} {category.name}"


def _write_summary(workbook, book, scores, shared: DistrictSheetRows, signed: Signature, styles, previous=None):
    ws = workbook.add_worksheet(SUMMARY)
    totals = scores.totals.sort_values(["排名"], kind="stable")
    categories = list(book.categories)
    headers = ["区"] + [_category_label(c) for c in categories] + ["基本分", "加分", "总分", "排名", "缺报项数"]
    if previous is not None:
        headers += list(previous.summary.columns)
    lines = _summary_lines(book, totals, signed)
    for line_row, (text, style) in enumerate(lines):
        ws.write_string(line_row, 0, text, styles[style])
    header_row = 3
    for col, header in enumerate(headers):
        ws.write_string(header_row, col, header, styles["header"])
    category_scores = shared.category_scores
    for offset, district in enumerate(totals.index):
        row = shared.totals[district]
        r = header_row + 1 + offset
        ws.write_string(r, 0, district, styles["text"])
        for col, category in enumerate(categories, start=1):
            ws.write_number(r, col, category_scores[district][category.number], styles["score"])
        base = len(categories) + 1
        for col, key in enumerate(["基本分", "加分", "总分"], start=base):
            ws.write_number(r, col, row[key], styles["score"])
        ws.write_number(r, base + 3, row["排名"], styles["int"])
        ws.write_number(r, base + 4, row["缺报项数"], styles["missing" if row["缺报项数"] else "int"])
        if previous is not None:
            _write_previous(ws, r, base + 5, previous.summary.loc[district], styles)
    last = header_row + len(totals)
    if len(totals):
        for col, category in enumerate(categories, start=1):
            if not category.bonus:
                ws.conditional_format(header_row + 1, col, last, col, {
                    "type": "cell", "criteria": "<", "value": round(category.points * 0.6, 2), "format": styles["red"]})
        total_col = len(categories) + 3
        ws.conditional_format(header_row + 1, total_col, last, total_col, {"type": "3_color_scale"})
        height = _chart(workbook, ws, header_row, last, total_col)
        _signature_block(ws, last + 3 + height // 20, len(headers) - 4, signed, styles)
    widths = [14] + [7.5] * len(categories) + [8] * (len(headers) - 1 - len(categories))
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    ws.set_row(header_row, printfit.row_height(list(zip(headers, widths)), bold=True, least=48))
    ws.freeze_panes(header_row + 1, 1)
    _print_summary(ws, header_row, widths, [(text, styles[style].font_size, bool(styles[style].bold)) for text, style in lines],
                   bool(len(totals)))


def _summary_lines(book, totals, signed: Signature) -> list[tuple[str, str]]:
    """(text, style) of the lines above 汇总's table: title, issuer and date, and a note of the districts
    with 缺报 when there are any."""
    incomplete = totals[totals["缺报项数"] > 0]
    lines = [(book.document_title("考核结果汇总"), "title"), (f"{signed.issuer}　　{signed.date}", "subtitle")]
    if len(incomplete):
        lines.append((clean(f"注：{len(incomplete)}个区有缺报项目（{'、'.join(incomplete.index)}），缺报的目标按0分计。"), "warn"))
    return lines


def _print_summary(ws, header_row, widths, lines, charted: bool) -> None:
    """Printed at the scale at which all it prints fills the page's width: the table's columns, those the
    chart reaches into and those into which its title lines run on."""
    print_setup(ws, (header_row, header_row))
    printed = printfit.run_on(widths + (printfit.columns_beyond(widths, CHART_WIDTH) if charted else []), lines)
    ws.set_print_scale(printfit.print_scale(printed))
    ws.print_area(0, 0, ws.dim_rowmax, max(ws.dim_colmax, len(printed) - 1))


def _chart(workbook, ws, header_row, last, total_col):
    chart = workbook.add_chart({"type": "bar"})
    chart.add_series({"name": "总分", "categories": [SUMMARY, header_row + 1, 0, last, 0],
                      "values": [SUMMARY, header_row + 1, total_col, last, total_col],
                      "data_labels": {"value": True, "num_format": "0.00"}, "fill": {"color": "#4472C4"}})
    chart.set_title({"name": "各区总分", "name_font": {"name": FONT, "size": 12}})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True, "num_font": {"name": FONT}})
    chart.set_x_axis({"min": 0, "num_font": {"name": FONT}})
    height = max(240, 24 * (last - header_row) + 80)
    chart.set_size({"width": CHART_WIDTH, "height": height})
    ws.insert_chart(last + 2, 0, chart)
    return height


def _write_previous(ws, r: int, c: int, last, styles) -> None:
    """上年总分, 上年排名, 变化; blank where the district was not assessed last year."""
    for offset, key in enumerate(("上年总分", "上年排名", "变化")):
        value = last[key]
        if value != value:  # NaN: no such district last year
            ws.write_string(r, c + offset, "", styles["center"])
        else:
            ws.write_number(r, c + offset, float(value), styles["int" if key == "上年排名" else "score"])


def _signature_block(ws, row: int, col: int, signed: Signature, styles) -> None:
    """落款: issuing unit, seal and date, right of the table, as a notice ends."""
    ws.write_string(row, col, signed.issuer, styles["label"])
    ws.write_string(row + 1, col, "（盖章）", styles["subtitle"])
    ws.write_string(row + 2, col, signed.date, styles["label"])


_WINNER_COLUMNS = ("district", "code", "value", "valid", "raw")


def _reported_text(book, read: ReadResult) -> dict[tuple[str, str], str]:
    """(district, code) → what was reported, readable: '违规审批项目数：2例', or the raw text if invalid."""
    columns = [read.winners[name].tolist() for name in _WINNER_COLUMNS]
    return {(district, code): _reported(book.indicators[code], value, valid, raw)
            for district, code, value, valid, raw in zip(*columns)}


def _reported(indicator: Indicator, value: Any, valid: bool, raw: str) -> str:
    shown = indicator.show(value) if valid else f"“{raw[:100]}”（{refusal(indicator, raw)}，未计分）"
    return f"{indicator.label}：{shown}"


class ReportedTexts:
    """_reported_text one district at a time: the winning values grouped by district before the district
    sheets are written, each district's texts made as its sheet is written (by whichever process writes it).
    The text of a valid number is made once per code and number (districts report the same few values: at 100
    districts 459 distinct of 8,700); a zero is told apart by its sign, -0.0 being equal to 0.0."""

    def __init__(self, book: Rulebook, read: ReadResult) -> None:
        self.book = book
        self.rows: dict[str, list[tuple[str, Any, bool, str]]] = {}
        self.known: dict[tuple[Any, ...], str] = {}
        columns = [read.winners[name].tolist() for name in _WINNER_COLUMNS]
        for district, code, value, valid, raw in zip(*columns):
            self.rows.setdefault(district, []).append((code, value, valid, raw))

    def of(self, district: str) -> dict[str, str]:
        """code → what `district` reported, readable."""
        indicators, known = self.book.indicators, self.known
        texts = {}
        for code, value, valid, raw in self.rows.get(district, ()):
            if not valid or type(value) is not float:
                texts[code] = _reported(indicators[code], value, valid, raw)
                continue
            key = (code, value) if value else (code, value, math.copysign(1.0, value))
            text = known.get(key)
            if text is None:
                text = known[key] = _reported(indicators[code], value, valid, raw)
            texts[code] = text
        return texts


DISTRICT_HEADERS = ["类别", "目标编号", "环保目标", "分值", "填报情况", "得分", "得分说明", "负责部门", "状态"]
DISTRICT_WIDTHS: list[float] = [14, 6, 34, 6, 34, 7, 40, 10, 6]
FACT_SIZE = 12  # points: the 基本分, 加分, 总分, 排名 line


@dataclass(frozen=True)
class DistrictSheetRows:
    """What the district sheets share, worked out once per scorecard (each category's label and targets, each
    target's departments), and each district's figures as plain dicts, so no sheet goes back to pandas."""
    categories: list[tuple[Category, str, list[tuple[Target, str]]]]
    totals: dict[str, dict[str, Any]]
    targets: dict[str, dict[int, float]]
    statuses: dict[str, dict[int, str]]
    texts: dict[str, dict[int, str]]
    category_scores: dict[str, dict[int, float]]


def district_sheet_rows(book: Rulebook, scores: Scores, explanations: pd.DataFrame) -> DistrictSheetRows:
    categories = [(category, _category_label(category),
                   [(t, "、".join(dict.fromkeys(book.indicators[c].department for c in t.indicators)))
                    for t in book.targets if t.category == category.number])
                  for category in book.categories]
    return DistrictSheetRows(categories, by_row(scores.totals), by_row(scores.targets, numbers=True),
                             by_row(scores.status), by_row(explanations), by_row(scores.categories, numbers=True))


def by_row(frame: pd.DataFrame, numbers: bool = False) -> dict[Any, dict[Any, Any]]:
    """frame.to_dict("index") (Python values, each column's own type), built from whole columns: pandas'
    to_dict goes row by row, slower than writing the cells. A frame of `numbers` (floats: scores) is taken
    out as one array: taking out each column builds a Series per column, slower than a small scorecard."""
    columns = list(frame.columns)
    rows = frame.to_numpy(dtype=float).tolist() if numbers else zip(*(frame[c].tolist() for c in columns))
    return {index: dict(zip(columns, row)) for index, row in zip(frame.index, rows)}


def _write_district(ws, book, shared: DistrictSheetRows, district, reported: ReportedTexts, styles, signed: Signature,
                    previous=None):
    totals, target_scores, statuses = shared.totals[district], shared.targets[district], shared.statuses[district]
    texts_reported = reported.of(district)
    texts, category_scores = shared.texts[district], shared.category_scores[district]
    ws.write_string(0, 0, f"{district}——{book.document_title('考核得分')}", styles["title"])
    ws.set_header(f"&R{header_text(signed.issuer)}　{signed.date}")
    widths: list[float] = list(DISTRICT_WIDTHS)
    facts = [("基本分", totals["基本分"]), ("加分", totals["加分"]), ("总分", totals["总分"]), ("排名", totals["排名"])]
    for i, (label, value) in enumerate(facts):
        ws.write_string(1, 2 * i, label, styles["label"])
        ws.write_number(1, 2 * i + 1, value, styles["big_int" if label == "排名" else "big"])
        shown = f"{int(value)}" if label == "排名" else f"{value:.2f}"
        widths[2 * i + 1] = max(widths[2 * i + 1], printfit.width_for(shown, FACT_SIZE, bold=True))
    if totals["缺报项数"]:
        ws.write_string(2, 0, f"注意：有{int(totals['缺报项数'])}个目标缺报，按0分计，总分不完整。", styles["warn"])
    headers = list(DISTRICT_HEADERS)
    last_year = previous.categories.get(district, {}) if previous is not None else None
    if last_year is not None:
        headers.append("上年得分")
        widths.append(8)
    header_row = 3
    for col, header in enumerate(headers):
        ws.write_string(header_row, col, header, styles["header"])
    r = header_row + 1
    heights: list[float] = []
    blocks: list[list[int]] = []
    bold_text, bold_score, text_style = styles["bold_text"], styles["bold_score"], styles["text"]
    for category, label, targets in shared.categories:
        blocks.append(list(range(r, r + 1 + len(targets))))
        cells = [(label, bold_text), ("小计", bold_text), ("", bold_text),
                 _points(category.points, bold_score, bold_text), ("", bold_text),
                 (category_scores[category.number], bold_score), ("", bold_text), ("", bold_text), ("", bold_text)]
        if last_year is not None:
            cells.append((last_year[category.number], bold_score) if category.number in last_year else ("", bold_text))
        ws.write_row_cells(r, 0, cells)
        heights.append(printfit.row_height([(label, widths[0])], bold=True, least=20))
        ws.set_row(r, heights[-1])
        r += 1
        for target, departments in targets:
            status, text = statuses[target.number], texts[target.number]
            said = "\n".join(texts_reported.get(code, f"{book.indicators[code].label}：（未填报）")
                             for code in target.indicators)
            ws.write_row_cells(r, 0, [("", text_style), (target.number, styles["int"]), (target.text, text_style),
                                  _points(target.max, styles["score"], styles["center"]), (said, text_style),
                                  (target_scores[target.number], styles["score"]), (text, text_style),
                                  (departments, text_style),
                                  (status, styles["missing" if status == MISSING else "center"])])
            heights.append(printfit.row_height([(target.text, widths[2]), (said, widths[4]), (text, widths[6]),
                                                (departments, widths[7])], least=20))
            ws.set_row(r, heights[-1])
            r += 1
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    ws.freeze_panes(header_row + 1, 0)
    print_setup(ws, (0, header_row))
    ws.print_area(0, 0, ws.dim_rowmax, ws.dim_colmax)
    scale = printfit.print_scale(widths)
    ws.set_print_scale(scale)
    repeated = _title_rows(ws, widths, headers)
    ws.set_h_pagebreaks(printfit.page_breaks(heights, blocks, printfit.page_room(scale, repeated), header_row + 1))


def _title_rows(ws, widths: list[float], headers: list[str]) -> float:
    """Sets the heights of the rows printed at the top of every page of a district sheet (title, facts,
    note, header) and returns their sum in points."""
    heights = [printfit.row_height([], size=14, bold=True), printfit.row_height([], size=FACT_SIZE, bold=True),
               printfit.row_height([], bold=True), printfit.row_height(list(zip(headers, widths)), bold=True)]
    for row, height in enumerate(heights):
        ws.set_row(row, height)
    return sum(heights)


def _points(points, number_style, text_style) -> tuple[Any, Any]:
    """A target's or category's 分值 as a cell: the number, or 不封顶 for a bonus without a cap."""
    return ("不封顶", text_style) if points is None else (points, number_style)


def _write_detail(ws, book, scores, shared: DistrictSheetRows, styles):
    for col, header in enumerate(DETAIL_HEADERS):
        ws.write_string(0, col, header, styles["header"])
    r = 1
    all_scores, all_statuses, all_texts = shared.targets, shared.statuses, shared.texts
    text, number, score, center = styles["text"], styles["int"], styles["score"], styles["center"]
    for district in scores.districts:
        for target in book.targets:
            ws.write_row_cells(r, 0, [(district, text), (target.number, number), (all_scores[district][target.number], score),
                                  (all_statuses[district][target.number], center),
                                  _points(target.max, score, center), (all_texts[district][target.number], text)])
            r += 1
    for col, width in enumerate([14, 8, 8, 6, 6, 80]):
        ws.set_column(col, col, width)
    ws.autofilter(0, 0, max(r - 1, 0), len(DETAIL_HEADERS) - 1)
    ws.freeze_panes(1, 0)
    print_setup(ws, (0, 0))
    ws.set_header(f"&C{WORKING_MARK}")


def problem_rows(problems: list[Problem]) -> list[list[str]]:
    return [[p.level, p.file, p.sheet, p.cell, p.district, p.code, p.message, p.raw] for p in problems]


def _write_problems(ws, problems, styles):
    write_table(ws, PROBLEM_HEADERS, problem_rows(problems), [6, 30, 10, 7, 12, 7, 70, 20], styles)
    ws.set_header(f"&C{WORKING_MARK}")


def write_table(ws, headers, rows, widths, styles):
    """A plain table of text (user text stays text) with a header, filter, frozen header and print setup."""
    for col, header in enumerate(headers):
        ws.write_string(0, col, header, styles["header"])
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(r, c, value, styles["center"])
            else:
                ws.write_string(r, c, clean("" if value is None else str(value)), styles["text"])
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    ws.autofilter(0, 0, max(len(rows), 1), len(headers) - 1)
    ws.freeze_panes(1, 0)
    print_setup(ws, (0, 0))


def clean(text: str) -> str:
    """Text from senders as a cell can hold it: control characters made visible, anything that is not
    valid Unicode replaced, at most one cell's worth."""
    return printable(text.encode("utf-8", "replace").decode("utf-8"))[:32_000]


def header_text(text: str) -> str:
    """Text inside a page header: `&` starts a header code, so it is doubled."""
    return text.replace("&", "&&")


def _time(stamp) -> str:
    try:
        return stamp.astimezone().strftime("%Y-%m-%d %H:%M:%S") if stamp else ""
    except (OverflowError, ValueError, OSError):
        return ""


def source_rows(read: ReadResult) -> list[list]:
    rows = []
    for report in read.files:
        info = report.info
        rows.append([info.name, info.sha256, info.size, _time(info.saved), _time(info.modified), info.format,
                     report.status, "、".join(report.supplied), "、".join(report.not_submitted),
                     report.superseded, "；".join(x for x in (report.reason, "含宏，未运行" if info.macros else "",
                                                              info.envelope) if x)])
    if read.adjustments_file:
        rows.append([read.adjustments_file, "", "", "", "", "", "调整表", "", "", 0,
                     f"综合处复核调整{len(read.adjustments)}项（见“{ADJUSTMENTS}”）"])
    for name, reason, _ in read.skipped:
        rows.append([name, "", "", "", "", "", "已跳过", "", "", 0, reason])
    return rows


def _write_sources(ws, read, styles):
    write_table(ws, SOURCE_HEADERS, source_rows(read), [30, 66, 10, 18, 18, 6, 9, 26, 26, 10, 40], styles)
    ws.set_header(f"&C{WORKING_MARK}")


def status_workbook(table: pd.DataFrame, files: dict[str, str], title: str, generated: datetime) -> bytes:
    """The `status` matrix as a workbook: departments × districts, then the files each department sent."""
    workbook = MemoryWorkbook()
    styles = house_styles(workbook)
    ws = workbook.add_worksheet(STATUS_SHEET)
    headers = ["部门", *table.columns, FILES_COLUMN]
    rows = [[department, *row, files.get(department, "")] for department, row in zip(table.index, table.values.tolist())]
    write_table(ws, headers, rows, [12] + [10] * (len(headers) - 2) + [60], styles)
    ws.conditional_format(1, 1, max(len(rows), 1), len(headers) - 2,
                          {"type": "text", "criteria": "containing", "value": "未交", "format": styles["red"]})
    ws.set_header(f"&C{header_text(title)}填报情况（{generated:%Y-%m-%d %H:%M}）")
    write_result_metadata(workbook, {"kind": "status", "generated_at": generated.isoformat()})
    return workbook.content()
