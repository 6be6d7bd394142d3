"""Tabular file formats: recognise an upload by its content and parse it into a DataFrame.

Every failure is a :class:`~flowdeck.errors.ValidationError` naming the file and, where the
parser says, the place (CSV line, JSON line and column, Excel sheet).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

import pandas as pd

from flowdeck.errors import ValidationError

__all__ = ["SUPPORTED_FORMATS", "check_format", "detect_format", "parse_table"]

#: The formats an upload can be parsed from.
SUPPORTED_FORMATS: tuple[str, ...] = ("csv", "tsv", "xlsx", "json", "parquet")

_EXTENSION_FORMATS = {
    "csv": "csv",
    "txt": "csv",
    "tsv": "tsv",
    "tab": "tsv",
    "xlsx": "xlsx",
    "xlsm": "xlsx",
    "json": "json",
    "jsonl": "json",
    "ndjson": "json",
    "parquet": "parquet",
    "pq": "parquet",
}
_SAMPLE = 64 * 1024
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other OLE2 documents)


def _extension_format(filename: str) -> str | None:
    return _EXTENSION_FORMATS.get(PurePath(filename).suffix.lstrip(".").lower())


def _decode(data: bytes) -> tuple[str, str]:
    """Return the text of ``data`` and the encoding that read it."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:_SAMPLE]


def _is_workbook(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError):
        return False


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            return False
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        return all(isinstance(json.loads(line), dict | list) for line in lines[:50])
    except json.JSONDecodeError:
        return False


def _delimiter(text: str) -> str | None:
    """Return ``\\t`` or ``,`` when the text is delimited by it, None when it cannot tell."""
    sample = text[:_SAMPLE]
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if len(sample) == _SAMPLE and len(lines) > 1:
        lines = lines[:-1]  # the last line of a cut sample may be partial
    if not lines:
        return None
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",\t").delimiter
    except csv.Error:
        pass
    # The sniffer gives up on irregular samples (quoted fields, one row): count instead.
    tabs = sum(line.count("\t") for line in lines)
    commas = sum(line.count(",") for line in lines)
    if tabs == commas == 0:
        return None
    return "\t" if tabs >= commas else ","


def detect_format(data: bytes, filename: str) -> str:
    """Return the format of ``data`` judged by its content; the extension of ``filename`` only breaks ties.

    Returns one of :data:`SUPPORTED_FORMATS`, or for other content ``"xls"`` (a legacy Excel or
    other OLE2 document), ``"zip"`` (an archive that is not a workbook) or ``"binary"``.
    Raises ValidationError when the file is empty.
    """
    if not data.strip():
        raise ValidationError(f"file {filename!r} is empty")
    if data[:4] == b"PAR1":
        return "parquet"
    if data[:4] == b"PK\x03\x04":
        return "xlsx" if _is_workbook(data) else "zip"
    if data[:8] == _OLE2_MAGIC:
        return "xls"
    if _looks_binary(data):
        return "binary"
    text, _ = _decode(data)
    by_extension = _extension_format(filename)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        if _is_json(text) or by_extension == "json":
            return "json"
    elif by_extension == "json":
        return "json"  # so that parsing reports where the JSON goes wrong
    delimiter = _delimiter(text)
    if delimiter == "\t":
        return "tsv"
    if delimiter == ",":
        return "csv"
    return by_extension if by_extension in ("csv", "tsv") else "csv"


def _normalise_allowed(allowed: Iterable[str]) -> list[str]:
    return [option.strip().lstrip(".").lower() for option in allowed]


def check_format(data: bytes, filename: str, allowed: Iterable[str]) -> str:
    """Return the detected format of ``data`` when it is among ``allowed``, else raise ValidationError.

    The error names the file, what it looks like and what is accepted, e.g.
    ``'data.csv' looks like xlsx, but this upload accepts csv``.
    """
    accepted = _normalise_allowed(allowed)
    detected = detect_format(data, filename)
    if detected in accepted:
        return detected
    if detected in ("csv", "tsv") and _delimiter(_decode(data)[0]) is None:
        # One column and no delimiter: the file is as much CSV as TSV.
        other = "tsv" if detected == "csv" else "csv"
        if other in accepted:
            return other
    wanted = ", ".join(accepted) or "(nothing)"
    if _extension_format(filename) == "xlsx" and detected != "xlsx":
        raise ValidationError(
            f"{filename!r} is not an Excel workbook (its content looks like {detected}); "
            f"this upload accepts {wanted}"
        )
    hint = ""
    if detected == "xls":
        hint = "; legacy .xls files are not supported, save it as .xlsx"
    raise ValidationError(f"{filename!r} looks like {detected}, but this upload accepts {wanted}{hint}")


def parse_table(
    data: bytes, filename: str, fmt: str | None = None, *, sheet: str | int | None = None
) -> pd.DataFrame:
    """Parse an uploaded file into a DataFrame.

    ``fmt`` is one of :data:`SUPPORTED_FORMATS`; when None it is detected from the content.
    ``sheet`` picks an Excel sheet by name or position (the first by default).
    """
    if not data.strip():
        raise ValidationError(f"file {filename!r} is empty")
    fmt = (fmt or detect_format(data, filename)).lower().lstrip(".")
    if fmt == "csv":
        return _parse_delimited(data, filename, ",", "CSV")
    if fmt == "tsv":
        return _parse_delimited(data, filename, "\t", "TSV")
    if fmt == "xlsx":
        return _parse_xlsx(data, filename, sheet)
    if fmt == "json":
        return _parse_json(data, filename)
    if fmt == "parquet":
        return _parse_parquet(data, filename)
    raise ValidationError(
        f"cannot parse {filename!r} as {fmt!r}; supported formats are {', '.join(SUPPORTED_FORMATS)}"
    )


_C_PARSER_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _fields(count: int) -> str:
    return f"{count} field" if count == 1 else f"{count} fields"


def _parse_delimited(data: bytes, filename: str, delimiter: str, label: str) -> pd.DataFrame:
    text, _ = _decode(data)
    # pandas pads short rows with NaN and turns a surplus first field into the index; a ragged
    # file is far more often a broken export than intended, so every record must match the header.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    width: int | None = None
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank lines, which pandas skips as well
            if width is None:
                width = len(record)
            elif len(record) != width:
                raise ValidationError(
                    f"{filename!r} is not a valid {label} file: line {reader.line_num} has "
                    f"{_fields(len(record))}, but the header has {width}"
                )
    except csv.Error as exc:
        raise ValidationError(
            f"{filename!r} is not a valid {label} file: line {reader.line_num}: {exc}"
        ) from exc
    if width is None:
        raise ValidationError(f"file {filename!r} is empty")
    try:
        return pd.read_csv(io.StringIO(text), sep=delimiter)
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(f"file {filename!r} is empty") from exc
    except (pd.errors.ParserError, ValueError) as exc:
        match = _C_PARSER_FIELDS.search(str(exc))
        if match:
            expected, line, saw = match.groups()
            raise ValidationError(
                f"{filename!r} is not a valid {label} file: line {line} has {_fields(int(saw))}, "
                f"but the header has {expected}"
            ) from exc
        raise ValidationError(f"{filename!r} is not a valid {label} file: {exc}") from exc


def _parse_xlsx(data: bytes, filename: str, sheet: str | int | None) -> pd.DataFrame:
    if not _is_workbook(data):
        raise ValidationError(f"{filename!r} is not an Excel workbook (expected an .xlsx file)")
    try:
        workbook = pd.ExcelFile(io.BytesIO(data), engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise ValidationError(f"{filename!r} is not an Excel workbook: {exc}") from exc
    with workbook:
        names = workbook.sheet_names
        if not names:
            raise ValidationError(f"Excel workbook {filename!r} has no sheets")
        if sheet is None:
            sheet_name = names[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise ValidationError(
                    f"Excel workbook {filename!r} has no sheet number {sheet}; it has {names}"
                )
            sheet_name = names[sheet]
        elif sheet in names:
            sheet_name = sheet
        else:
            raise ValidationError(
                f"Excel workbook {filename!r} has no sheet {sheet!r}; its sheets are {names}"
            )
        try:
            frame = pd.read_excel(workbook, sheet_name=sheet_name)
        except Exception as exc:  # a broken sheet may fail in openpyxl or pandas with any type
            raise ValidationError(
                f"sheet {sheet_name!r} of Excel workbook {filename!r} cannot be read: {exc}"
            ) from exc
    if frame.empty and len(frame.columns) == 0:
        raise ValidationError(f"sheet {sheet_name!r} of Excel workbook {filename!r} is empty")
    return frame


def _json_to_frame(obj: Any, filename: str) -> pd.DataFrame:
    if isinstance(obj, list):
        if all(isinstance(row, dict) for row in obj):
            return pd.DataFrame.from_records(obj) if obj else pd.DataFrame()
        if all(isinstance(row, list) for row in obj):
            return pd.DataFrame(obj)
        raise ValidationError(
            f"{filename!r}: a JSON list must hold records (objects) or rows (lists), "
            "not a mix or plain values"
        )
    if isinstance(obj, dict):
        if "schema" in obj and "data" in obj:
            return pd.read_json(io.StringIO(json.dumps(obj)), orient="table")
        if "columns" in obj and "data" in obj:
            return pd.DataFrame(obj["data"], columns=obj["columns"], index=obj.get("index"))
        if all(isinstance(column, list | dict) for column in obj.values()):
            try:
                return pd.DataFrame(obj)
            except ValueError as exc:
                raise ValidationError(f"{filename!r}: the JSON columns do not form a table: {exc}") from exc
        if not any(isinstance(value, list | dict) for value in obj.values()):
            return pd.DataFrame([obj])
        raise ValidationError(f"{filename!r}: a JSON object must map column names to lists of values")
    raise ValidationError(
        f"{filename!r}: JSON must be a list of records or an object of columns, got a {type(obj).__name__}"
    )


def _parse_json(data: bytes, filename: str) -> pd.DataFrame:
    text, _ = _decode(data)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise ValidationError(
                f"{filename!r} is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from exc
        obj = _parse_json_lines(text, filename)
    return _json_to_frame(obj, filename)


def _parse_json_lines(text: str, filename: str) -> list[Any]:
    """Parse JSON Lines (one record per line)."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"{filename!r} is not valid JSON Lines: line {number}, column {exc.colno}: {exc.msg}"
            ) from exc
    return rows


def _parse_parquet(data: bytes, filename: str) -> pd.DataFrame:
    if data[:4] != b"PAR1":
        raise ValidationError(f"{filename!r} is not a Parquet file (it does not start with PAR1)")
    try:
        return pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow reports damage with several exception types
        raise ValidationError(f"{filename!r} is not a valid Parquet file: {exc}") from exc
