"""The shared-strings part written by the house writer (xlsx.sharedstrings) has xlsxwriter's bytes."""
import io
import re

from xlsxwriter.sharedstrings import SharedStrings, SharedStringTable

from assess_xl.xlsx.sharedstrings import HouseSharedStrings

TEXTS = ["考核结果", "", "a & b", "x < y > z", '引号"在内', "第一行\n第二行", "结尾换行\n", " 前有空格", "后有空格 ",
         "\u3000全角空格", "全角空格\u3000", "\t制表", "控制\x01字符", "\x1f", "_x0041_ 像转义", "_x00g1_ 不像",
         "非字符\ufffe\uffff", "<r><t>富文本</t></r>", "<r>半个", "emoji 😀", "\u00a0不换行空格",
         "\x85下一行", "段落分隔\u2029", "\u200b零宽", "\x1c文件分隔", "\r回车", "回车\r"]


def written(kind, texts) -> str:
    table = SharedStringTable()
    for text in texts:
        table._get_shared_string_index(text)
    table._sort_string_data()
    writer = kind()
    writer.string_table = table
    out = io.StringIO()
    writer._set_xml_writer(out)
    writer._assemble_xml_file()
    return out.getvalue()


def test_every_kind_of_text_written_as_xlsxwriter_writes_it():
    assert written(HouseSharedStrings, TEXTS) == written(SharedStrings, TEXTS)


def test_each_text_alone_and_among_plain_ones():
    for text in TEXTS:
        texts = ["前", text, "后"]
        assert written(HouseSharedStrings, texts) == written(SharedStrings, texts), repr(text)


def test_whitespace_at_either_end_is_what_xlsxwriter_finds():
    """plain() tests the first and last character with str.isspace where xlsxwriter searches `^\\s|\\s$`:
    the same for every character (a final newline is whitespace itself)."""
    leading, trailing = re.compile(r"^\s"), re.compile(r"\s$")
    for code in range(0x110000):
        c = chr(code)
        assert bool(leading.search(c + "甲")) == c.isspace() == bool(trailing.search("甲" + c)), hex(code)
