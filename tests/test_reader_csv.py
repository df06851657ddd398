"""Reading CSV files: encodings, delimiters, line endings, row numbers, ragged rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchops.errors import SheetError
from batchops.sheets import read_table


@pytest.fixture
def csv_file(tmp_path: Path):
    """Write ``data`` (bytes, or text encoded as UTF-8) to ``name`` and return the path."""

    def make(data: bytes | str, name: str = "rows.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return path

    return make


def test_plain_utf8_values_are_stripped_text_and_empty_is_none(csv_file):
    table = read_table(csv_file("id, name ,phone\n 00123 ,Ann, \n7,,13800138000\n"))
    assert table.kind == "csv" and table.sheet is None
    assert table.display_sheet == "rows.csv"
    assert table.headers == ["id", "name", "phone"]
    assert table.rows == [["00123", "Ann", None], ["7", None, "13800138000"]]
    assert table.row_numbers == [2, 3]
    assert (table.encoding, table.delimiter, table.warnings) == ("utf-8", ",", [])


def test_a_utf8_bom_is_dropped(csv_file):
    table = read_table(csv_file(b"\xef\xbb\xbfid,name\n1,\xe5\xbc\xa0\xe4\xb8\x89\n"))
    assert table.headers == ["id", "name"]
    assert table.rows == [["1", "张三"]]
    assert table.encoding == "utf-8-sig"


def test_gb18030_is_the_fallback_and_the_guess_is_said(csv_file):
    table = read_table(csv_file("规则名称,score\n静音规则,80\n".encode("gb18030")))
    assert table.headers == ["规则名称", "score"]
    assert table.rows == [["静音规则", "80"]]
    assert table.encoding == "gb18030"
    assert table.warnings == [("Read as GB18030, as the file is not UTF-8. If the text looks wrong, pass the file's "
                              "encoding with --encoding, or save it as CSV UTF-8.")]


def test_chinese_that_shift_jis_also_decodes_is_read_as_gb18030(csv_file):
    # As Shift-JIS these bytes are half-width katakana (ｹ､ｺﾅ,ﾗｯ), which nobody writes.
    table = read_table(csv_file("工号,坐席\n张伟,客服\n".encode("gb18030")))
    assert (table.headers, table.encoding) == (["工号", "坐席"], "gb18030")
    assert table.warnings == [
        ("Read as GB18030: the file is not UTF-8 and could also be read as Shift-JIS. If the text looks wrong, "
        "pass --encoding shift_jis, or save the file as CSV UTF-8.")
    ]


def test_shift_jis_is_told_apart_from_gb18030(csv_file):
    # These bytes are valid GB18030 too, which reads them as 柤慜,擭楊: the reading that is real text wins.
    table = read_table(csv_file("名前,年齢\n山田,30\n佐藤,28\n".encode("shift_jis")))
    assert table.headers == ["名前", "年齢"]
    assert table.rows == [["山田", "30"], ["佐藤", "28"]]
    assert table.encoding == "cp932"
    assert table.warnings == [
        ("Read as Shift-JIS: the file is not UTF-8 and could also be read as GB18030. If the text looks wrong, "
        "pass --encoding gb18030, or save the file as CSV UTF-8.")
    ]


def test_japanese_with_kana_and_gbk_that_shift_jis_cannot_read(csv_file):
    kana = read_table(csv_file("名前,ふりがな\n山田,やまだ\n".encode("shift_jis")))
    assert (kana.rows, kana.encoding) == ([["山田", "やまだ"]], "cp932")
    gbk = read_table(csv_file("id,名字,年龄\n1,小红,10\n".encode("gbk")))  # 0xEA 0x2C is no Shift-JIS
    assert (gbk.headers, gbk.encoding) == (["id", "名字", "年龄"], "gb18030")


def test_the_encoding_given_wins(csv_file):
    path = csv_file("名前,年齢\n山田,30\n".encode("shift_jis"))
    assert read_table(path, encoding="gb18030").headers == ["柤慜", "擭楊"]  # what the user asked for
    latin = csv_file("name,city\nJosé,Zürich\n".encode("latin-1"), "latin.csv")
    table = read_table(latin, encoding="latin-1")
    assert (table.rows, table.encoding, table.warnings) == ([["José", "Zürich"]], "iso8859-1", [])
    with pytest.raises(SheetError) as info:
        read_table(path, encoding="utf-8")
    assert str(info.value) == ("rows.csv: is not valid text in UTF-8 (line 1). Pass its encoding with "
                               "--encoding, or save it as 'CSV UTF-8 (Comma delimited)'.")


def test_latin1_is_not_taken_for_half_width_katakana(csv_file):
    with pytest.raises(SheetError) as info:
        read_table(csv_file(b"a,b,c\n1,2,3\n4,5,\xa9\n"))
    assert str(info.value) == (
        "rows.csv: is not UTF-8, and reads as neither Chinese (GB18030) nor Japanese (Shift-JIS) text. "
        "Pass its encoding with --encoding (for example --encoding latin-1), or save it as "
        "'CSV UTF-8 (Comma delimited)'."
    )


def test_utf16_with_a_bom_is_read(csv_file):
    table = read_table(csv_file("id\tname\n1\t张三\n".encode("utf-16")))
    assert (table.rows, table.encoding, table.delimiter) == ([["1", "张三"]], "utf-16", "\t")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_read(csv_file, codec):
    table = read_table(csv_file("id,name\r\n1,José\r\n2,张三\r\n".encode(codec)))
    assert (table.headers, table.rows, table.encoding) == (["id", "name"], [["1", "José"], ["2", "张三"]], codec)


def test_bytes_that_are_no_text_name_what_was_tried_and_how_to_choose(csv_file):
    with pytest.raises(SheetError) as info:
        read_table(csv_file(b"id\n\x81\x20\n"))
    assert str(info.value) == (
        "rows.csv: is not valid text in UTF-8, GB18030 or Shift-JIS. Pass its encoding with --encoding "
        "(for example --encoding latin-1), or save it as 'CSV UTF-8 (Comma delimited)'."
    )


def test_nul_bytes_are_refused(csv_file):
    with pytest.raises(SheetError) as info:
        read_table(csv_file(b"id,name\n1,a\x00b\n"))
    assert str(info.value) == (
        "rows.csv: contains NUL bytes (the first on line 2), so it is not a text CSV file. "
        "Export it again as CSV UTF-8; if it is a workbook, give it its .xlsx name."
    )


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("id,callNumber\n1,\"123,456\"\n", ","),
        ("id;callNumber\n1;123,456\n", ";"),
        ("id\tcallNumber\n1\t123,456\n", "\t"),
        ("id|callNumber\n1|123,456\n", "|"),
        ('"id,x";callNumber\n1;123,456\n', ";"),
    ],
)
def test_the_delimiter_is_found_from_the_header_line(csv_file, text, delimiter):
    table = read_table(csv_file(text))
    assert table.delimiter == delimiter
    assert table.rows[0][1] == "123,456"


def test_a_single_column_file_uses_comma(csv_file):
    table = read_table(csv_file("id\n1\n2\n"))
    assert (table.delimiter, table.rows) == (",", [["1"], ["2"]])


def test_excels_sep_line_sets_the_delimiter_and_is_not_a_row(csv_file):
    table = read_table(csv_file("sep=;\nid;name\n1;a,b\n"))
    assert (table.delimiter, table.header_row, table.row_numbers) == (";", 1, [2])
    assert table.rows == [["1", "a,b"]]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending_reads_the_same(csv_file, newline):
    table = read_table(csv_file(newline.join(["id,name", "1,a", "", "2,b", ""])))
    assert (table.rows, table.row_numbers) == ([["1", "a"], ["2", "b"]], [2, 4])


def test_a_quoted_value_across_lines_is_one_row(csv_file):
    table = read_table(csv_file('id,remark\n1,"line one\nline two\r\nline three"\n2,x\n'))
    assert table.rows == [["1", "line one\nline two\r\nline three"], ["2", "x"]]
    assert table.row_numbers == [2, 3]


def test_leading_blank_lines_push_the_header_down(csv_file):
    table = read_table(csv_file("\n,,\nid,name\n1,a\n"))
    assert (table.header_row, table.row_numbers) == (3, [4])


@pytest.mark.parametrize(("text", "expected"), [
    ("id,callNumber\n1,2\n3,123,456\n", "row 3: has a value in column C ('456') beyond the 2 header columns (A to B)"),
    # csvkit's bad.csv: as many values as headers, but one of them past the last header
    ('column_a,column_b,column_c\n1,27,,"I\'m too long!"\n',
     "row 2: has a value in column D ('I'm too long!') beyond the 3 header columns (A to C)"),
])
def test_a_value_beyond_the_last_header_is_named_by_column_and_text(csv_file, text, expected):
    with pytest.raises(SheetError) as info:
        read_table(csv_file(text))
    assert str(info.value) == (
        f"rows.csv, {expected}. Wrap values that contain a comma in double quotes, or add the missing header."
    )


def test_trailing_empty_fields_and_short_rows_are_fine(csv_file):
    table = read_table(csv_file("id,name,phone\n1,a,,,\n2\n"))
    assert table.rows == [["1", "a", None], ["2", None, None]]


def test_an_empty_header_column_with_data_is_named(csv_file):
    with pytest.raises(SheetError, match=r"column B: holds data \(first in row 2\) but has no header in row 1"):
        read_table(csv_file("id,,name\n1,x,a\n"))


def test_an_unclosed_quote_is_an_error_not_a_swallowed_file(csv_file):
    with pytest.raises(SheetError) as info:
        read_table(csv_file('id,name\n1,"open\n2,b\n3,c\n'))
    assert str(info.value) == (
        "rows.csv, row 2: could not be parsed as CSV: a quoted value is never closed. Check the quotes: a value "
        'with a delimiter or line break must be wrapped in "…", and a quote inside such a value doubled ("").'
    )


def test_text_after_a_closing_quote_is_said_in_plain_words(csv_file):
    with pytest.raises(SheetError) as info:
        read_table(csv_file('id,name\n1,"a"b\n'))
    assert str(info.value).startswith(
        "rows.csv, row 2: could not be parsed as CSV: a quoted value is followed by more text before the next "
        "delimiter. Check the quotes"
    )


def test_a_ten_thousand_character_value_is_read_whole(csv_file):
    long = "y" * 10_000
    assert read_table(csv_file(f"id,remark\n1,{long}\n")).rows == [["1", long]]


def test_headers_only_is_zero_rows(csv_file):
    table = read_table(csv_file("id,name\n"))
    assert (table.headers, table.rows) == (["id", "name"], [])


def test_a_file_of_blank_lines_has_no_header_row(csv_file):
    with pytest.raises(SheetError, match=r"^rows.csv: has no header row: the file is empty\."):
        read_table(csv_file("\n \n,,\n"))


def test_a_sheet_name_for_a_csv_is_ignored_with_a_warning(csv_file):
    table = read_table(csv_file("id\n1\n"), sheet="Data")
    assert table.warnings == ["A CSV file has no sheets; the sheet name 'Data' was ignored."]


def test_duplicated_headers_are_given_faithfully(csv_file):
    assert read_table(csv_file("id,ID, id \n1,2,3\n")).headers == ["id", "ID", "id"]


def test_too_many_rows(csv_file):
    with pytest.raises(SheetError, match=r"^rows.csv: has more than 2 data rows\. Split"):
        read_table(csv_file("id\n1\n2\n3\n"), max_rows=2)


def test_content_decides_a_workbook_named_csv_is_read_as_xlsx(tmp_path):
    from sheet_builders import simple_xlsx

    path = simple_xlsx(tmp_path / "export.csv", {1: ["id"], 2: ["7"]})
    table = read_table(path)
    assert (table.kind, table.rows) == ("xlsx", [["7"]])


def test_the_writers_formula_guard_is_taken_off(csv_file):
    # What write_csv makes of "=1+1", "-call back", "+86…", "@x", "'=x" and "\tx".
    table = read_table(csv_file("id,remark\n'=1+1,'-call back\n'+8613800000000,'@x\n''=x,'\tx\n"))
    assert table.rows == [["=1+1", "-call back"], ["+8613800000000", "@x"], ["'=x", "x"]]


def test_an_apostrophe_before_anything_else_is_data(csv_file):
    # Only the guard before a formula character is the writer's; '0012 is left for validation to name.
    table = read_table(csv_file("id,remark\n'0012,'tis fine\n'',O'Brien\n"))
    assert table.rows == [["'0012", "'tis fine"], ["''", "O'Brien"]]


def test_a_guarded_header_reads_as_written(csv_file):
    table = read_table(csv_file("'=id,name\n1,x\n"))
    assert table.headers == ["=id", "name"]


def test_validate_plan_and_apply_take_encoding(tmp_path, capsys):
    from roundtrip_helpers import cli

    path = tmp_path / "names.csv"
    path.write_bytes("名前,年齢\n山田,30\n".encode("shift_jis"))
    for command in ("validate", "plan", "apply"):
        assert cli(command, path, "--encoding", "utf-8") == 2
        assert ("names.csv: is not valid text in UTF-8 (line 1). Pass its encoding with --encoding, or save it as "
                "'CSV UTF-8 (Comma delimited)'.") in " ".join(capsys.readouterr().err.split())
    assert cli("validate", path, "--encoding", "nope") == 2
    assert "'nope' is not an encoding; use e.g. utf-8, gb18030, shift_jis, utf-16, latin-1" in capsys.readouterr().err


def test_a_guessed_encoding_is_said_when_no_header_fits(tmp_path, capsys):
    from roundtrip_helpers import cli

    path = tmp_path / "names.csv"
    path.write_bytes("名前,年齢\n山田,30\n".encode("shift_jis"))
    assert cli("validate", path) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("Error: names.csv: ") and len(capsys.readouterr().err.splitlines()) <= 1
    assert err.endswith(" Read as Shift-JIS: the file is not UTF-8 and could also be read as GB18030. If the text "
                        "looks wrong, pass --encoding gb18030, or save the file as CSV UTF-8.")
