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


def test_gb18030_is_the_fallback_and_is_recorded(csv_file):
    table = read_table(csv_file("规则名称,score\n静音规则,80\n".encode("gb18030")))
    assert table.headers == ["规则名称", "score"]
    assert table.rows == [["静音规则", "80"]]
    assert table.encoding == "gb18030"
    assert table.warnings == ["Read as GB18030; save the file as UTF-8 to avoid guessing."]


def test_utf16_with_a_bom_is_read(csv_file):
    table = read_table(csv_file("id\tname\n1\t张三\n".encode("utf-16")))
    assert (table.rows, table.encoding, table.delimiter) == ([["1", "张三"]], "utf-16", "\t")


def test_bytes_that_are_neither_utf8_nor_gb18030_name_both(csv_file):
    with pytest.raises(SheetError) as info:
        read_table(csv_file(b"id\n\x81\x20\n"))
    assert str(info.value) == (
        "rows.csv: is not valid text in UTF-8 or GB18030. Save it as 'CSV UTF-8 (Comma delimited)' and try again."
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


def test_a_row_with_more_values_than_headers_is_named(csv_file):
    with pytest.raises(SheetError) as info:
        read_table(csv_file("id,callNumber\n1,2\n3,123,456\n"))
    assert str(info.value) == (
        "rows.csv, row 3: has 3 values reaching column C, but only 2 headers. "
        "Wrap values that contain a comma in double quotes, or add the missing header."
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
    assert str(info.value).startswith("rows.csv, row 2: could not be parsed as CSV")
    assert str(info.value).endswith('must be wrapped in "…".')


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
