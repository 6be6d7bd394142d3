"""Upload formats: sniffing by content, parsing, and clear errors for bad files."""

from __future__ import annotations

import io
import json
import re
import zipfile

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdeck.errors import ValidationError
from flowdeck.formats import SUPPORTED_FORMATS, check_format, detect_format, parse_table

FRAME = pd.DataFrame(
    {
        "name": pd.Series(["ada", "bob", "cy"], dtype="str"),
        "age": [36, 41, 29],
        "score": [0.5, 1.25, -3.0],
    }
)


def as_csv(frame: pd.DataFrame = FRAME, sep: str = ",") -> bytes:
    return frame.to_csv(index=False, sep=sep).encode()


def as_xlsx(frame: pd.DataFrame = FRAME, sheet: str = "Sheet1") -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False, sheet_name=sheet)
    return buffer.getvalue()


def as_parquet(frame: pd.DataFrame = FRAME) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def as_json(frame: pd.DataFrame = FRAME) -> bytes:
    return json.dumps(frame.to_dict(orient="records"), indent=2).encode()


BUILDERS = {
    "csv": as_csv,
    "tsv": lambda: as_csv(sep="\t"),
    "xlsx": as_xlsx,
    "json": as_json,
    "parquet": as_parquet,
}


def test_supported_formats() -> None:
    assert SUPPORTED_FORMATS == ("csv", "tsv", "xlsx", "json", "parquet")


@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
def test_each_format_is_detected_and_parsed(fmt: str) -> None:
    data = BUILDERS[fmt]()
    assert detect_format(data, f"upload.{fmt}") == fmt
    # the content decides, whatever the name says
    assert detect_format(data, "upload.bin") == fmt
    pd.testing.assert_frame_equal(parse_table(data, f"upload.{fmt}"), FRAME)
    pd.testing.assert_frame_equal(parse_table(data, "misnamed.txt", fmt), FRAME)


def test_json_column_orients_and_json_lines() -> None:
    columns = json.dumps({"name": ["ada", "bob", "cy"], "age": [36, 41, 29], "score": [0.5, 1.25, -3.0]})
    pd.testing.assert_frame_equal(parse_table(columns.encode(), "c.json"), FRAME)
    split = FRAME.to_json(orient="split", index=False).encode()
    pd.testing.assert_frame_equal(parse_table(split, "s.json"), FRAME)
    lines = "\n".join(json.dumps(row) for row in FRAME.to_dict(orient="records")).encode()
    assert detect_format(lines, "rows.jsonl") == "json"
    pd.testing.assert_frame_equal(parse_table(lines, "rows.jsonl"), FRAME)


def test_xlsx_sheet_choice() -> None:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        FRAME.to_excel(writer, index=False, sheet_name="first")
        FRAME.head(1).to_excel(writer, index=False, sheet_name="second")
    data = buffer.getvalue()
    assert len(parse_table(data, "book.xlsx")) == 3
    assert len(parse_table(data, "book.xlsx", sheet="second")) == 1
    assert len(parse_table(data, "book.xlsx", sheet=1)) == 1
    with pytest.raises(
        ValidationError, match=r"'book.xlsx' has no sheet 'third'; its sheets are \['first', 'second'\]"
    ):
        parse_table(data, "book.xlsx", sheet="third")


def test_empty_sheet_is_an_error() -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "Blank"
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(ValidationError, match=re.escape("sheet 'Blank' of Excel workbook 'blank.xlsx' is empty")):
        parse_table(buffer.getvalue(), "blank.xlsx")


def test_csv_quoting_and_encodings() -> None:
    data = b'city,note\n"Paris, FR","said ""hi"""\nOslo,plain\n'
    frame = parse_table(data, "q.csv")
    assert frame["city"].tolist() == ["Paris, FR", "Oslo"]
    assert frame["note"].tolist() == ['said "hi"', "plain"]
    latin = "name,city\nJosé,Zürich\n".encode("cp1252")
    assert parse_table(latin, "l.csv")["city"].tolist() == ["Zürich"]
    with_bom = "\ufeffa,b\n1,2\n".encode()
    assert list(parse_table(with_bom, "bom.csv").columns) == ["a", "b"]


def test_single_column_text_fits_csv_and_tsv() -> None:
    data = b"value\n1\n2\n"
    assert detect_format(data, "v.csv") == "csv"
    assert detect_format(data, "v.tsv") == "tsv"
    assert check_format(data, "v.csv", ["tsv"]) == "tsv"


# --- content checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "filename", "allowed", "message"),
    [
        ("xlsx", "data.csv", ["csv"], "'data.csv' looks like xlsx, but this upload accepts csv"),
        (
            "parquet",
            "data.csv",
            ["csv", "tsv"],
            "'data.csv' looks like parquet, but this upload accepts csv, tsv",
        ),
        ("tsv", "data.csv", ["csv"], "'data.csv' looks like tsv, but this upload accepts csv"),
        ("csv", "data.xlsx", ["xlsx"], "'data.xlsx' is not an Excel workbook (its content looks like csv)"),
        (
            "json",
            "data.parquet",
            ["parquet"],
            "'data.parquet' looks like json, but this upload accepts parquet",
        ),
    ],
)
def test_wrong_content_for_the_upload(fmt: str, filename: str, allowed: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        check_format(BUILDERS[fmt](), filename, allowed)


def test_check_format_returns_the_detected_format() -> None:
    assert check_format(as_xlsx(), "data.xlsx", ["CSV", ".xlsx"]) == "xlsx"
    assert check_format(as_csv(sep="\t"), "export.txt", ["tsv"]) == "tsv"  # Excel's "Text (Tab delimited)"


@pytest.mark.parametrize(
    ("data", "filename", "allowed", "message"),
    [
        (as_csv(), "export.txt", ["csv"], "'export.txt' has extension .txt, but this upload accepts .csv files"),
        (b"just some notes\nover two lines\n", "notes.txt", ["csv", "xlsx", "parquet"], "has extension .txt"),
        (as_csv(), "data", ["csv"], "'data' has no extension, but this upload accepts .csv files"),
        (as_parquet(), "data.csv", ["csv", "parquet"], "its content looks like parquet, so name it data.parquet"),
        (as_csv(), "data.xlsx", ["csv", "xlsx"], "'data.xlsx' has extension .xlsx"),
    ],
)
def test_extension_and_content_must_both_fit(data: bytes, filename: str, allowed: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        check_format(data, filename, allowed)


def test_other_binary_content() -> None:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("notes.txt", "hello")
    assert detect_format(zipped.getvalue(), "a.xlsx") == "zip"
    legacy = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100
    with pytest.raises(ValidationError, match=re.escape("legacy .xls files are not supported, save it as .xlsx")):
        check_format(legacy, "old.csv", ["csv"])
    assert detect_format(b"\x00\x01\x02binary", "x.csv") == "binary"


# --- parse errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"   \n\n"])
@pytest.mark.parametrize("filename", ["x.csv", "x.json", "x.xlsx", "x.parquet"])
def test_empty_file(content: bytes, filename: str) -> None:
    with pytest.raises(ValidationError, match=f"file '{re.escape(filename)}' is empty"):
        parse_table(content, filename)
    with pytest.raises(ValidationError, match="is empty"):
        check_format(content, filename, ["csv"])


def test_csv_with_a_long_row_names_the_line() -> None:
    data = b"a,b\n1,2\n3,4\n5,6,7\n8,9\n"
    with pytest.raises(
        ValidationError,
        match=re.escape("'bad.csv' is not a valid CSV file: line 4 has 3 fields, but the header has 2"),
    ):
        parse_table(data, "bad.csv")


def test_csv_with_an_unclosed_quote_names_the_line_it_starts_on() -> None:
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "'quote.csv' is not a valid CSV file: a quoted value starting on line 3 is never closed "
            '(a " is missing); close it or remove the quote'
        ),
    ):
        parse_table(b'a,b\n1,2\n3,"4\n5,6\n', "quote.csv")


def test_csv_with_a_short_row_is_not_padded() -> None:
    with pytest.raises(
        ValidationError,
        match=re.escape("'short.csv' is not a valid CSV file: line 3 has 1 field, but the header"),
    ):
        parse_table(b"a,b\n1,2\n3\n", "short.csv")


def test_csv_with_trailing_delimiters_is_not_read_as_an_index() -> None:
    with pytest.raises(ValidationError, match="line 2 has 3 fields, but the header has 2"):
        parse_table(b"a,b\n1,2,\n3,4,\n", "trail.csv")


def test_tsv_ragged_row() -> None:
    with pytest.raises(ValidationError, match=re.escape("'bad.tsv' is not a valid TSV file: line 2 has 3 fields")):
        parse_table(b"a\tb\n1\t2\t3\n", "bad.tsv", "tsv")


def test_csv_unterminated_quote() -> None:
    with pytest.raises(ValidationError, match=re.escape("'q.csv' is not a valid CSV file: line 2")):
        parse_table(b'a,b\n"1,2\n', "q.csv", "csv")


def test_blank_lines_are_skipped() -> None:
    frame = parse_table(b"a,b\n1,2\n\n3,4\n\n", "blank.csv")
    pd.testing.assert_frame_equal(frame, pd.DataFrame({"a": [1, 3], "b": [2, 4]}))


def test_xlsx_that_is_not_a_workbook() -> None:
    with pytest.raises(ValidationError, match=r"'fake.xlsx' is not an Excel workbook \(expected an .xlsx file\)"):
        parse_table(as_csv(), "fake.xlsx", "xlsx")
    truncated = as_xlsx()[:200]
    with pytest.raises(ValidationError, match=re.escape("'cut.xlsx' is not an Excel workbook")):
        parse_table(truncated, "cut.xlsx", "xlsx")


def test_invalid_json_names_line_and_column() -> None:
    data = b'[\n  {"a": 1},\n  {"a": }\n]'
    with pytest.raises(
        ValidationError, match=re.escape("'bad.json' is not valid JSON: line 3, column 9: Expecting value")
    ):
        parse_table(data, "bad.json")
    lines = b'{"a": 1}\n{"a": 2}\n{"a" 3}\n'
    with pytest.raises(ValidationError, match=re.escape("'rows.json' is not valid JSON Lines: line 3, column 6")):
        parse_table(lines, "rows.json")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"42", "JSON must be a list of records or an object of columns, got a int"),
        (b'[1, {"a": 2}]', "a JSON list must hold records"),
        (b'{"a": [1, 2], "b": [1]}', "the JSON columns do not form a table"),
    ],
)
def test_json_that_is_not_a_table(document: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        parse_table(document, "t.json")


def test_broken_parquet() -> None:
    data = as_parquet()
    with pytest.raises(ValidationError, match=re.escape("'cut.parquet' is not a valid Parquet file")):
        parse_table(data[: len(data) // 2], "cut.parquet")
    with pytest.raises(ValidationError, match=r"'fake.parquet' is not a Parquet file \(it does not start with PAR1\)"):
        parse_table(as_csv(), "fake.parquet", "parquet")


def test_unknown_format_name() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("cannot parse 'a.csv' as 'xml'; supported formats are csv, tsv")
    ):
        parse_table(as_csv(), "a.csv", "xml")


# --- property: what pandas writes, flowdeck reads back ---------------------------------------------

cells = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\x00"), min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(
    columns=st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=4, unique=True),
    data=st.data(),
    fmt=st.sampled_from(["csv", "tsv", "parquet", "json"]),
)
def test_text_frames_round_trip(columns: list[str], data: st.DataObject, fmt: str) -> None:
    rows = data.draw(st.integers(1, 6))
    frame = pd.DataFrame(
        {column: pd.Series(data.draw(st.lists(cells, min_size=rows, max_size=rows)), dtype="str") for column in columns}
    )
    content = {
        "csv": lambda: frame.to_csv(index=False).encode(),
        "tsv": lambda: frame.to_csv(index=False, sep="\t").encode(),
        "parquet": lambda: as_parquet(frame),
        "json": lambda: as_json(frame),
    }[fmt]()
    parsed = parse_table(content, f"data.{fmt}", fmt)
    if fmt in ("csv", "tsv"):
        # CSV has no types: text such as "00", "NA" or "1e3" is read as pandas reads it, a number or
        # a missing value. Every cell must be where pandas puts it, with the value pandas gives it.
        expected = pd.read_csv(io.BytesIO(content), sep="," if fmt == "csv" else "\t")
        pd.testing.assert_frame_equal(parsed, expected)
    else:
        pd.testing.assert_frame_equal(parsed.astype("str"), frame)
