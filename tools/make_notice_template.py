"""Writes templates/notice-template.docx: the Word file whose styles the notices (通报) use. The
coordinator may restyle it in Word (fonts, sizes, margins) and pass it with --notice-template;
only the style names matter to the program. Run: python3 tools/make_notice_template.py"""
from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

TARGET = Path(__file__).parents[1] / "templates" / "notice-template.docx"
STYLES = [  # name, East Asian font, size, bold, alignment, first-line indent (characters)
    ("通报标题", "方正小标宋简体", 22, False, WD_ALIGN_PARAGRAPH.CENTER, 0),
    ("通报主送", "仿宋_GB2312", 16, False, WD_ALIGN_PARAGRAPH.LEFT, 0),
    ("通报正文", "仿宋_GB2312", 16, False, WD_ALIGN_PARAGRAPH.JUSTIFY, 2),
    ("通报小标题", "黑体", 16, False, WD_ALIGN_PARAGRAPH.LEFT, 2),
    ("通报附表标题", "黑体", 16, False, WD_ALIGN_PARAGRAPH.LEFT, 0),
    ("通报落款", "仿宋_GB2312", 16, False, WD_ALIGN_PARAGRAPH.RIGHT, 0),
]


def add_style(document, name, font, size, bold, alignment, indent):
    style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Normal"]
    style.font.name = font
    style.font.size = Pt(size)
    style.font.bold = bold
    style.element.rPr.rFonts.set(qn("w:eastAsia"), font)
    paragraph = style.paragraph_format
    paragraph.alignment = alignment
    paragraph.line_spacing = Pt(28)
    paragraph.space_after = Pt(0)
    if indent:
        paragraph.first_line_indent = Pt(size * indent)


def main():
    document = Document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    for style in STYLES:
        add_style(document, *style)
    document.add_paragraph("本文件是考核结果通报的样式模板：可在Word中修改“通报标题”“通报正文”等样式的字体、字号和页边距，"
                           "程序生成通报时使用这些样式，并删除本段文字。", style="通报正文")
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    document.save(TARGET)
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
