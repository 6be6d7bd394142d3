"""Tabular file formats: recognise an upload by its content and parse it into a DataFrame.

Every failure is a :class:`~flowdeck.errors.ValidationError` naming the file and, where the
parser says, the place (CSV line, JSON line and column, Excel sheet).

Parsing is bounded (see docs/security.md): before anything is decoded, the sizes a file
declares (Parquet metadata, zip members and sheet extents of a workbook) are checked against the
limits of :class:`ParseLimits`; decoding then streams and stops at those limits, at a time limit,
and at most ``max_concurrent_parses`` files are parsed at once in a process.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import io
import json
import re
import threading
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from flowdeck.errors import ValidationError

__all__ = [
    "FORMAT_EXTENSIONS",
    "FORMULA_PREFIXES",
    "SUPPORTED_FORMATS",
    "ParseLimits",
    "check_format",
    "detect_format",
    "escape_formula",
    "escape_formulas",
    "parse_feather",
    "parse_table",
]

#: The formats an upload can be parsed from.
SUPPORTED_FORMATS: tuple[str, ...] = ("csv", "tsv", "xlsx", "json", "parquet")

#: The file extensions an upload of each format may have (checked together with its content).
FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "csv": ("csv",),
    "tsv": ("tsv", "tab", "txt"),
    "xlsx": ("xlsx", "xlsm"),
    "json": ("json", "jsonl", "ndjson"),
    "parquet": ("parquet", "pq"),
}

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
_CHUNK = 1024 * 1024
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other OLE2 documents)


# --- limits ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ParseLimits:
    """What parsing one upload may cost; the defaults are those of the settings of the same names."""

    #: Bytes the file may decode to (setting ``max_decoded_bytes``).
    max_decoded_bytes: int = 1024**3
    #: Cells (rows x columns) of the parsed table (setting ``max_upload_cells``).
    max_cells: int = 50_000_000
    #: Cells of one Excel sheet, which cost far more to parse than CSV cells (``max_sheet_cells``).
    max_sheet_cells: int = 2_000_000
    #: Seconds one parse may take (setting ``max_parse_seconds``).
    max_seconds: float = 60.0

    @classmethod
    def from_settings(cls) -> ParseLimits:
        """The limits of the current deployment's settings."""
        from flowdeck.config import get_settings

        settings = get_settings()
        return cls(
            max_decoded_bytes=settings.max_decoded_bytes,
            max_cells=settings.max_upload_cells,
            max_sheet_cells=settings.max_sheet_cells,
            max_seconds=settings.max_parse_seconds,
        )


class _Budget:
    """The limits of one parse, with its deadline; each check raises ValidationError naming the setting."""

    def __init__(self, filename: str, limits: ParseLimits) -> None:
        self.filename = filename
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_seconds

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise ValidationError(
                f"{self.filename!r} takes longer than {self.limits.max_seconds:g} s to parse, the limit "
                "(setting max_parse_seconds); upload a smaller file"
            )

    def decoded(self, size: int, what: str) -> None:
        limit = self.limits.max_decoded_bytes
        if size > limit:
            raise ValidationError(
                f"{self.filename!r} {what} {size:,} bytes, over the limit of {limit:,} bytes "
                "(setting max_decoded_bytes); upload a smaller file"
            )

    def cells(self, count: int, what: str = "has", *, sheet: bool = False) -> None:
        limit = self.limits.max_sheet_cells if sheet else self.limits.max_cells
        limit = min(limit, self.limits.max_cells)
        if count > limit:
            setting = "max_sheet_cells" if sheet and limit == self.limits.max_sheet_cells else "max_upload_cells"
            raise ValidationError(
                f"{self.filename!r} {what} {count:,} cells, over the limit of {limit:,} cells "
                f"(setting {setting}); upload a smaller file"
            )


_slots_lock = threading.Lock()
_slots: tuple[int, threading.BoundedSemaphore] | None = None


def _parse_slots() -> tuple[int, threading.BoundedSemaphore]:
    """The process-wide semaphore of ``max_concurrent_parses`` slots (replaced when the setting changes)."""
    from flowdeck.config import get_settings

    global _slots
    size = get_settings().max_concurrent_parses
    with _slots_lock:
        if _slots is None or _slots[0] != size:
            _slots = (size, threading.BoundedSemaphore(size))
        return _slots


@contextlib.contextmanager
def _parse_slot(filename: str, limits: ParseLimits) -> Iterator[None]:
    size, slots = _parse_slots()
    if not slots.acquire(timeout=limits.max_seconds):
        raise ValidationError(
            f"{filename!r} cannot be parsed now: {size} other uploads are being parsed (setting "
            "max_concurrent_parses); try again in a moment"
        )
    try:
        yield
    finally:
        slots.release()


# --- text encodings --------------------------------------------------------------------------------


def _wide_encoding(head: bytes) -> str | None:
    """``utf-32``/``utf-16`` (by byte order mark) or ``utf-16-le``/``-be`` (by its zero bytes), else None."""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = head[:4096]
    head = head[: len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    for encoding, zeros, other in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros.count(0) > 0.4 * len(zeros) and other.count(0) < 0.05 * len(other):
            try:
                text = head.decode(encoding)
            except UnicodeDecodeError:
                return None
            # Binary data can have zero bytes in every other place too: text must read as text.
            printable = sum(1 for char in text if char.isprintable() or char in "\t\r\n")
            return encoding if printable >= 0.95 * len(text) else None
    return None


def _encoding(data: bytes) -> str:
    """The encoding that reads all of ``data``: UTF-16/32 when it says so, else UTF-8, cp1252 or latin-1."""
    wide = _wide_encoding(data[:_SAMPLE])
    if wide is not None:
        return wide
    if data.isascii():
        return "utf-8"
    view = memoryview(data)
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for start in range(0, len(view), _CHUNK):
                decoder.decode(view[start : start + _CHUNK])
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


def _sample_text(data: bytes) -> str:
    """The text of the first ``_SAMPLE`` bytes of ``data`` (for sniffing; the parse reads all of it)."""
    sample = data[:_SAMPLE]
    final = len(data) <= _SAMPLE
    wide = _wide_encoding(sample)
    for encoding in (wide,) if wide else ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return codecs.getincrementaldecoder(encoding)().decode(sample, final=final)
        except UnicodeDecodeError:
            continue
    return sample.decode("latin-1")  # not reached: latin-1 reads any byte


def _is_blank(data: bytes) -> bool:
    return not data or data.isspace()


# --- detection -------------------------------------------------------------------------------------


def _extension(filename: str) -> str:
    return PurePath(filename).suffix.lstrip(".").lower()


def _extension_format(filename: str) -> str | None:
    return _EXTENSION_FORMATS.get(_extension(filename))


def _looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:_SAMPLE] and _wide_encoding(data[:_SAMPLE]) is None


def _is_workbook(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError):
        return False


_JSON_START = re.compile(r'\s*(\[\s*[\[{"\d\-tfn\]]|\{\s*["}])')


def _is_json(text: str, complete: bool) -> bool:
    """Whether ``text`` (the whole file when ``complete``, else its start) is JSON or JSON Lines."""
    if not complete:
        lines = [line for line in text.splitlines()[:-1] if line.strip()]
        try:
            if lines and all(isinstance(json.loads(line), dict | list) for line in lines[:50]):
                return True
        except (json.JSONDecodeError, RecursionError):
            pass
        return _JSON_START.match(text) is not None
    try:
        json.loads(text)
        return True
    except RecursionError:
        return True  # nested too deeply to be a table, which parsing reports
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            return False
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        return all(isinstance(json.loads(line), dict | list) for line in lines[:50])
    except (json.JSONDecodeError, RecursionError):
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
    Text may be UTF-8, UTF-16 or UTF-32 (with or without a byte order mark for UTF-16),
    cp1252 or latin-1; only the start of the file is read. Raises ValidationError when the
    file is empty.
    """
    if _is_blank(data):
        raise ValidationError(f"file {filename!r} is empty")
    if data[:4] == b"PAR1":
        return "parquet"
    if data[:4] == b"PK\x03\x04":
        return "xlsx" if _is_workbook(data) else "zip"
    if data[:8] == _OLE2_MAGIC:
        return "xls"
    if _looks_binary(data):
        return "binary"
    text = _sample_text(data)
    by_extension = _extension_format(filename)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        if _is_json(text, complete=len(data) <= _SAMPLE) or by_extension == "json":
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


def _check_extension(filename: str, fmt: str, accepted: list[str], single_column: bool) -> None:
    """Refuse a file whose extension is not one of ``fmt``'s.

    A one-column text is as much CSV as TSV, so it may be named .csv, .tsv or .tab for either;
    .txt stays reserved to uploads that accept tsv (a .txt is often a tab-delimited export).
    """
    extensions = list(FORMAT_EXTENSIONS[fmt])
    if single_column:
        extensions += ["csv", "tsv", "tab"]
    extension = _extension(filename)
    if extension in extensions:
        return
    wanted = [ext for name in accepted if name in FORMAT_EXTENSIONS for ext in FORMAT_EXTENSIONS[name]]
    has = f"extension .{extension}" if extension else "no extension"
    raise ValidationError(
        f"{filename!r} has {has}, but this upload accepts "
        f"{', '.join('.' + ext for ext in wanted)} files; its content looks like {fmt}, so name it "
        f"{PurePath(filename).stem or 'data'}.{FORMAT_EXTENSIONS[fmt][0]} if that is what it is"
    )


def check_format(data: bytes, filename: str, allowed: Iterable[str]) -> str:
    """Return the detected format of ``data`` when it is among ``allowed``, else raise ValidationError.

    Both the content and the extension must fit: the error names the file, what it looks like and
    what is accepted, e.g. ``'data.csv' looks like xlsx, but this upload accepts csv``, or
    ``'notes.txt' has extension .txt, but this upload accepts .csv files``.
    """
    accepted = _normalise_allowed(allowed)
    detected = detect_format(data, filename)
    single_column = detected in ("csv", "tsv") and _delimiter(_sample_text(data)) is None
    if detected in accepted:
        _check_extension(filename, detected, accepted, single_column)
        return detected
    if single_column:
        # One column and no delimiter: the file is as much CSV as TSV.
        other = "tsv" if detected == "csv" else "csv"
        if other in accepted:
            _check_extension(filename, other, accepted, single_column)
            return other
    wanted = ", ".join(accepted) or "(nothing)"
    if _extension_format(filename) == "xlsx" and detected != "xlsx":
        raise ValidationError(
            f"{filename!r} is not an Excel workbook (its content looks like {detected}); this upload accepts {wanted}"
        )
    hint = ""
    if detected == "xls":
        hint = "; legacy .xls files are not supported, save it as .xlsx"
    raise ValidationError(f"{filename!r} looks like {detected}, but this upload accepts {wanted}{hint}")


def parse_table(
    data: bytes,
    filename: str,
    fmt: str | None = None,
    *,
    sheet: str | int | None = None,
    limits: ParseLimits | None = None,
) -> pd.DataFrame:
    """Parse an uploaded file into a DataFrame.

    ``fmt`` is one of :data:`SUPPORTED_FORMATS`; when None it is detected from the content.
    ``sheet`` picks an Excel sheet by name or position (the first by default). ``limits`` bound
    what the parse may cost (by default :meth:`ParseLimits.from_settings`); a file over them is
    refused with ValidationError before it is decoded where its declared sizes tell, else as soon
    as decoding passes them. At most ``max_concurrent_parses`` parses run at once per process.
    """
    if _is_blank(data):
        raise ValidationError(f"file {filename!r} is empty")
    fmt = (fmt or detect_format(data, filename)).lower().lstrip(".")
    if fmt not in SUPPORTED_FORMATS:
        raise ValidationError(
            f"cannot parse {filename!r} as {fmt!r}; supported formats are {', '.join(SUPPORTED_FORMATS)}"
        )
    limits = limits or ParseLimits.from_settings()
    with _parse_slot(filename, limits):
        budget = _Budget(filename, limits)
        if fmt == "csv":
            frame = _parse_delimited(data, filename, ",", "CSV", budget)
        elif fmt == "tsv":
            frame = _parse_delimited(data, filename, "\t", "TSV", budget)
        elif fmt == "xlsx":
            frame = _parse_xlsx(data, filename, sheet, budget)
        elif fmt == "json":
            frame = _parse_json(data, filename, budget)
        else:
            frame = _parse_parquet(data, filename, budget)
    budget.cells(frame.shape[0] * frame.shape[1])
    return frame


# --- CSV and TSV -----------------------------------------------------------------------------------

_C_PARSER_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_C_PARSER_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")
_CSV_BLOCK = 1024 * 1024


def _fields(count: int) -> str:
    return f"{count} field" if count == 1 else f"{count} fields"


def _check_delimited(data: bytes, filename: str, delimiter: str, label: str, encoding: str, budget: _Budget) -> None:
    """Tokenise the whole file in blocks (no values are kept): every record must match the header.

    pandas pads short rows with NaN and turns a surplus first field into the index; a ragged file
    is far more often a broken export than intended. This pass also counts the cells.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    failures: list[str] = []

    def on_invalid_row(row: Any) -> str:
        if row.text is not None and not row.text.strip():
            return "skip"  # a line of blanks, which pandas skips as well
        failures.append(
            f"line {row.number} has {_fields(row.actual_columns)}, but the header has {row.expected_columns}"
        )
        return "error"

    block = min(len(data) + 1, _CSV_BLOCK)
    while True:
        read_options = pacsv.ReadOptions(
            block_size=block,
            use_threads=False,
            encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
        )
        parse_options = pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid_row
        )
        try:
            # The first block gives the header; reading every column as bytes (of which only the
            # first is kept) checks the shape of every record and cannot fail on a value.
            # Each reader is closed here, whatever happens: one left open (held by a traceback) is
            # destroyed at interpreter exit with its read-ahead thread running, which aborts the process.
            with contextlib.closing(
                pacsv.open_csv(
                    pa.BufferReader(data), read_options, parse_options, pacsv.ConvertOptions(include_columns=[])
                )
            ) as header:
                names = header.schema.names
            binary = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.binary()), include_columns=names[:1])
            width = len(names)
            rows = 0
            records = pacsv.open_csv(pa.BufferReader(data), read_options, parse_options, binary)
            with contextlib.closing(records) as reader:
                for batch in reader:
                    rows += batch.num_rows
                    budget.cells(rows * width, "has more than")
                    budget.tick()
            pa.default_memory_pool().release_unused()  # so that pandas can reuse the memory
            return
        except pa.ArrowInvalid as exc:
            if failures:
                raise ValidationError(f"{filename!r} is not a valid {label} file: {failures[0]}") from None
            message = str(exc)
            if "Empty CSV file" in message:
                raise ValidationError(f"file {filename!r} is empty") from None
            if "straddl" in message and block <= len(data):
                block = min(block * 16, len(data) + 1)  # a record is longer than a block: larger blocks
                continue
            raise ValidationError(f"{filename!r} is not a valid {label} file: {message}") from None


def _parse_delimited(data: bytes, filename: str, delimiter: str, label: str, budget: _Budget) -> pd.DataFrame:
    encoding = _encoding(data)
    budget.tick()
    _check_delimited(data, filename, delimiter, label, encoding, budget)
    budget.tick()
    try:
        # pandas reads the bytes in chunks and converts as it goes: no decoded copy of the file.
        # UTF-8 goes to pandas' C reader as is (it drops a byte order mark itself); other encodings
        # are decoded by pandas as it reads.
        return pd.read_csv(io.BytesIO(data), sep=delimiter, encoding="utf-8" if encoding == "utf-8-sig" else encoding)
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
        quote = _C_PARSER_QUOTE.search(str(exc))
        if quote:
            raise ValidationError(
                f"{filename!r} is not a valid {label} file: a quoted value starting on line "
                f'{int(quote.group(1)) + 1} is never closed (a " is missing); close it or remove the quote'
            ) from exc
        raise ValidationError(f"{filename!r} is not a valid {label} file: {exc}") from exc


# --- Excel -----------------------------------------------------------------------------------------

_MAX_ZIP_MEMBERS = 10_000
#: A workbook member that decodes to more than this many times its stored size is a zip bomb.
_MAX_ZIP_RATIO = 200
_ZIP_RATIO_FLOOR = 16 * 1024 * 1024  # smaller members may be as repetitive as they like
_MAX_TAG = 64 * 1024
_DIMENSION = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?dimension\s[^>]*?\bref\s*=\s*["\']([^"\']*)["\']')
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c(?=[\s/>])")
_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row(?=[\s/>])")
_ROW_NUMBER = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?row\s[^>]*?\br\s*=\s*["'](\d{1,12})["']""")
_CELL_COLUMN = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\br\s*=\s*["']\$?([A-Za-z]{1,12})""")
_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si(?=[\s/>])")
_SHARED_STRING_OVERHEAD = 64  # bytes of memory per shared string besides its text, roughly
_A1 = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")


def _column_number(letters: bytes | str) -> int:
    number = 0
    for char in letters.upper() if isinstance(letters, str) else letters.decode().upper():
        number = number * 26 + ord(char) - 64
    return number


class _TimedBytesIO(io.BytesIO):
    """In-memory file whose reads check the parse's deadline (openpyxl reads the zip through it)."""

    def __init__(self, data: bytes, budget: _Budget) -> None:
        super().__init__(data)
        self._budget = budget

    def read(self, size: int | None = -1) -> bytes:
        self._budget.tick()
        return super().read(size)


def _chunks(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: _Budget) -> Iterator[bytes]:
    """A member decompressed in chunks of about ``_CHUNK`` bytes, each ending between two tags."""
    pending = b""
    with archive.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            budget.tick()
            text = pending + chunk
            cut = text.rfind(b"<")
            if cut != -1 and text.find(b">", cut) == -1:
                text, pending = text[:cut], text[cut:]
                if len(pending) > _MAX_TAG:
                    raise ValidationError(f"{budget.filename!r} is not an Excel workbook: {member.filename} is damaged")
            else:
                pending = b""
            yield text


def _check_sheet(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: _Budget) -> None:
    """Refuse a sheet whose declared or actual extent is over the cell limits, before openpyxl reads it."""
    sheet = member.filename.rsplit("/", 1)[-1].removesuffix(".xml")
    with archive.open(member) as stream:
        head = stream.read(_SAMPLE)
    declared = _DIMENSION.search(head)
    if declared is not None:
        corners = _A1.findall(declared.group(1).decode("ascii", "replace"))
        if len(corners) == 2:
            (first_col, first_row), (last_col, last_row) = corners
            rows = int(last_row) - int(first_row) + 1
            columns = _column_number(last_col) - _column_number(first_col) + 1
            budget.cells(max(rows, 1) * max(columns, 1), f"declares a sheet ({sheet}) of", sheet=True)
    # The declared extent may be missing or false: count the cells and the grid they span, since
    # openpyxl fills the gaps of a row up to its last cell and empty rows up to the last row.
    # The regular expressions run over whole chunks so that a cell costs no Python bytecode.
    cells = rows = max_row = max_column = 0
    for text in _chunks(archive, member, budget):
        found = len(_CELL.findall(text))
        cells += found
        budget.cells(cells, f"has a sheet ({sheet}) of more than", sheet=True)
        rows += len(_ROW.findall(text))
        max_row = max(max_row, rows, *map(int, _ROW_NUMBER.findall(text) or [0]))
        references = _CELL_COLUMN.findall(text)
        if references:
            widest = max(set(references), key=lambda letters: (len(letters), letters.upper()))
            max_column = max(max_column, _column_number(widest))
        if len(references) < found:
            # Some cells have no reference: they take the next column, so count the cells per row.
            max_column = max(max_column, *(len(_CELL.findall(row)) for row in _ROW.split(text)))
        budget.cells(max_row * max(max_column, 1), f"has a sheet ({sheet}) spanning", sheet=True)


def _check_workbook(data: bytes, filename: str, budget: _Budget) -> None:
    """Check what a workbook declares (zip member sizes and ratios, sheet extents, shared strings)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ValidationError(f"{filename!r} is not an Excel workbook: {exc}") from exc
    with archive:
        members = archive.infolist()
        if len(members) > _MAX_ZIP_MEMBERS:
            raise ValidationError(
                f"{filename!r} holds {len(members):,} files; an Excel workbook has far fewer "
                f"(at most {_MAX_ZIP_MEMBERS:,} are accepted)"
            )
        budget.decoded(sum(member.file_size for member in members), "would decompress to")
        for member in members:
            if member.file_size > _ZIP_RATIO_FLOOR and member.file_size > _MAX_ZIP_RATIO * max(member.compress_size, 1):
                raise ValidationError(
                    f"{filename!r} is a zip bomb: {member.filename} would decompress from "
                    f"{member.compress_size:,} to {member.file_size:,} bytes (more than {_MAX_ZIP_RATIO}x)"
                )
        # Shared strings first: openpyxl loads them all before it reads a sheet.
        members.sort(key=lambda member: member.filename != "xl/sharedStrings.xml")
        try:
            for member in members:
                name = member.filename
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    _check_sheet(archive, member, budget)
                elif name == "xl/sharedStrings.xml":
                    count = sum(len(_SHARED_STRING.findall(text)) for text in _chunks(archive, member, budget))
                    budget.cells(count, "has shared strings for")
                    budget.decoded(
                        member.file_size + count * _SHARED_STRING_OVERHEAD, "has shared strings taking about"
                    )
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ValidationError(f"{filename!r} is not an Excel workbook: {exc}") from exc


def _parse_xlsx(data: bytes, filename: str, sheet: str | int | None, budget: _Budget) -> pd.DataFrame:
    if not _is_workbook(data):
        raise ValidationError(f"{filename!r} is not an Excel workbook (expected an .xlsx file)")
    _check_workbook(data, filename, budget)
    try:
        workbook = pd.ExcelFile(_TimedBytesIO(data, budget), engine="openpyxl")
    except ValidationError:
        raise
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        budget.tick()  # openpyxl wraps the time limit's error in its own
        raise ValidationError(f"{filename!r} is not an Excel workbook: {exc}") from exc
    with workbook:
        names = workbook.sheet_names
        if not names:
            raise ValidationError(f"Excel workbook {filename!r} has no sheets")
        if sheet is None:
            sheet_name = names[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise ValidationError(f"Excel workbook {filename!r} has no sheet number {sheet}; it has {names}")
            sheet_name = names[sheet]
        elif sheet in names:
            sheet_name = sheet
        else:
            raise ValidationError(f"Excel workbook {filename!r} has no sheet {sheet!r}; its sheets are {names}")
        try:
            frame = pd.read_excel(workbook, sheet_name=sheet_name)
        except ValidationError:
            raise
        except Exception as exc:  # a broken sheet may fail in openpyxl or pandas with any type
            budget.tick()
            raise ValidationError(f"sheet {sheet_name!r} of Excel workbook {filename!r} cannot be read: {exc}") from exc
    if frame.empty and len(frame.columns) == 0:
        raise ValidationError(f"sheet {sheet_name!r} of Excel workbook {filename!r} is empty")
    return frame


# --- JSON ------------------------------------------------------------------------------------------


def _table_from_json(obj: Any, filename: str) -> pd.DataFrame:
    if isinstance(obj, list):
        if all(isinstance(row, dict) for row in obj):
            return pd.DataFrame.from_records(obj) if obj else pd.DataFrame()
        if all(isinstance(row, list) for row in obj):
            return pd.DataFrame(obj)
        raise ValidationError(
            f"{filename!r}: a JSON list must hold records (objects) or rows (lists), not a mix or plain values"
        )
    if isinstance(obj, dict):
        if "schema" in obj and "data" in obj:
            return pd.read_json(io.StringIO(json.dumps(obj)), orient="table")
        if "columns" in obj and "data" in obj:
            return pd.DataFrame(obj["data"], columns=obj["columns"], index=obj.get("index"))
        if all(isinstance(column, list | dict) for column in obj.values()):
            return pd.DataFrame(obj)
        if not any(isinstance(value, list | dict) for value in obj.values()):
            return pd.DataFrame([obj])
        raise ValidationError(f"{filename!r}: a JSON object must map column names to lists of values")
    raise ValidationError(
        f"{filename!r}: JSON must be a list of records or an object of columns, got a {type(obj).__name__}"
    )


def _json_to_frame(obj: Any, filename: str) -> pd.DataFrame:
    try:
        frame = _table_from_json(obj, filename)
    except ValidationError:
        raise
    except Exception as exc:  # pandas refuses a malformed table with several exception types
        raise ValidationError(f"{filename!r}: the JSON columns do not form a table: {exc}") from exc
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if column.dtype != object:
            continue
        for row, value in enumerate(column):
            if isinstance(value, dict | list):
                kind = "an object" if isinstance(value, dict) else "a list"
                raise ValidationError(
                    f"{filename!r}: column {frame.columns[position]!r} holds nested JSON ({kind}) in row "
                    f"{row + 1}; a table needs plain values (text, numbers, true/false, null), so give "
                    "each nested field a column of its own"
                )
    return frame


#: Bytes of memory a parsed JSON value takes, roughly (a Python object and its place in a container).
_JSON_VALUE_BYTES = 72


def _parse_json(data: bytes, filename: str, budget: _Budget) -> pd.DataFrame:
    encoding = _encoding(data)
    # json.loads builds a Python object per value before pandas sees one: bound them by the
    # separators (an upper bound, since separators inside strings count too) before decoding.
    values = data.count(b",") + data.count(b":") + 1
    budget.decoded(len(data) + values * _JSON_VALUE_BYTES, "would take about")
    text = data.decode(encoding)
    budget.tick()
    try:
        obj = json.loads(text)
    except RecursionError:
        raise ValidationError(
            f"{filename!r}: the JSON is nested too deeply to be a table; "
            "upload a list of records or an object of columns"
        ) from None
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise ValidationError(
                f"{filename!r} is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from exc
        obj = _parse_json_lines(text, filename, budget)
    budget.tick()
    return _json_to_frame(obj, filename)


def _parse_json_lines(text: str, filename: str, budget: _Budget) -> list[Any]:
    """Parse JSON Lines (one record per line)."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if number % 65536 == 0:
            budget.tick()
        try:
            rows.append(json.loads(line))
        except RecursionError:
            raise ValidationError(
                f"{filename!r}: line {number} of the JSON Lines is nested too deeply to be a record"
            ) from None
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"{filename!r} is not valid JSON Lines: line {number}, column {exc.colno}: {exc.msg}"
            ) from exc
    return rows


# --- Parquet ---------------------------------------------------------------------------------------

_PHYSICAL_WIDTHS = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8}
_PARQUET_BATCH = 8192


def _dictionary_bytes(array: Any) -> int:
    """Bytes the dictionary-encoded strings of ``array`` (nested anywhere) take once decoded."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        if len(array) == 0:
            return 0
        lengths = pc.take(pc.binary_length(array.dictionary), array.indices)
        return int(pc.sum(lengths).as_py() or 0)
    if pa.types.is_struct(kind):
        return sum(_dictionary_bytes(array.field(index)) for index in range(kind.num_fields))
    if pa.types.is_map(kind):
        return _dictionary_bytes(array.keys) + _dictionary_bytes(array.items)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _dictionary_bytes(array.values)
    return 0


def _check_parquet(data: bytes, filename: str, budget: _Budget) -> None:
    """Refuse a Parquet file whose declared or decoded size is over the limits, before pandas reads it.

    The metadata gives rows, columns, the uncompressed size of every column chunk and the values
    of fixed width. Strings may come from a dictionary page, where one long entry can stand for
    every row: they are read as dictionaries (small) and their decoded length summed batch by batch.
    """
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(io.BytesIO(data))
    metadata = parquet.metadata
    budget.cells(metadata.num_rows * metadata.num_columns, "declares")
    declared = fixed = 0
    strings: list[str] = []
    for index in range(metadata.num_columns):
        column = parquet.schema.column(index)
        values = 0
        for group in range(metadata.num_row_groups):
            chunk = metadata.row_group(group).column(index)
            declared += chunk.total_uncompressed_size
            values += chunk.num_values
        if column.physical_type == "BYTE_ARRAY":
            strings.append(column.path)
        elif column.physical_type == "FIXED_LEN_BYTE_ARRAY":
            fixed += values * max(column.length or 0, 0)
        else:
            fixed += values * _PHYSICAL_WIDTHS.get(column.physical_type, 8)
    budget.decoded(declared, "declares column data of")
    budget.decoded(fixed, "declares values of")
    if not strings:
        return
    decoded = fixed
    # Closed whatever happens, as the CSV readers are: a batch iterator left for interpreter exit
    # may still have a read-ahead thread running.
    with pq.ParquetFile(io.BytesIO(data), read_dictionary=strings) as dictionaries:
        for batch in dictionaries.iter_batches(batch_size=_PARQUET_BATCH, use_threads=False):
            budget.tick()
            decoded += sum(_dictionary_bytes(column) for column in batch.columns)
            # Strings not dictionary-encoded in the file are bounded by the declared sizes above.
            budget.decoded(decoded, "would decode to more than")


def _parse_parquet(data: bytes, filename: str, budget: _Budget) -> pd.DataFrame:
    if data[:4] != b"PAR1":
        raise ValidationError(f"{filename!r} is not a Parquet file (it does not start with PAR1)")
    with _damage_reported(filename, "Parquet"):
        _check_parquet(data, filename, budget)
        budget.tick()
        return pd.read_parquet(io.BytesIO(data))


@contextlib.contextmanager
def _damage_reported(filename: str, kind: str) -> Iterator[None]:
    """Turn what pyarrow raises for a damaged file (several exception types) into ValidationError."""
    try:
        yield
    except ValidationError:
        raise
    except Exception as exc:
        raise ValidationError(f"{filename!r} is not a valid {kind} file: {exc}") from exc


# --- Arrow IPC (Feather v2) ------------------------------------------------------------------------


def _aliasing_type(data_type: Any) -> str | None:
    """The name of a type in ``data_type`` whose values may share bytes, or None.

    View and run-end-encoded arrays let every row point at the same bytes, so their decoded size
    is not bounded by the buffers the file declares; pandas never writes them.
    """
    import pyarrow as pa
    import pyarrow.types as types

    checks = (
        types.is_string_view,
        types.is_binary_view,
        types.is_list_view,
        types.is_large_list_view,
        types.is_run_end_encoded,
    )
    if any(check(data_type) for check in checks):
        return str(data_type)
    if isinstance(data_type, pa.DictionaryType):
        return _aliasing_type(data_type.value_type)
    if isinstance(data_type, pa.BaseExtensionType):
        return _aliasing_type(data_type.storage_type)
    for index in range(data_type.num_fields):
        found = _aliasing_type(data_type.field(index).type)
        if found:
            return found
    return None


def parse_feather(data: bytes, filename: str, *, limits: ParseLimits | None = None) -> pd.DataFrame:
    """Read an Arrow IPC file (Feather v2) into a DataFrame, within ``limits`` as an upload is.

    The rows, columns and decompressed sizes the file declares are checked before any buffer is
    decompressed (:func:`flowdeck.arrow_ipc.declared_sizes`); columns of view or run-end-encoded
    types, whose rows may all share the same bytes, are refused. Failures are ValidationError
    naming the file.
    """
    import pyarrow as pa

    from flowdeck.arrow_ipc import declared_sizes

    limits = limits or ParseLimits.from_settings()
    with _parse_slot(filename, limits):
        budget = _Budget(filename, limits)
        with _damage_reported(filename, "feather"):
            declared = declared_sizes(data)
            budget.cells(declared.rows * declared.columns, "declares")
            budget.decoded(declared.decoded_bytes, "declares column data of")
            reader = pa.ipc.open_file(pa.BufferReader(data))
            for field in reader.schema:
                aliasing = _aliasing_type(field.type)
                if aliasing:
                    raise ValidationError(
                        f"{filename!r} has column {field.name!r} of type {aliasing}, whose rows may share "
                        "bytes; write the file from pandas (DataFrame.to_feather) or with plain string and list types"
                    )
            budget.tick()
            return reader.read_pandas()


# --- writing tables that spreadsheets open safely ------------------------------------------------

#: What a spreadsheet reads as the start of a formula in a CSV cell (OWASP "CSV injection"); a tab
#: or carriage return may stand before one.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _holds_no_text(dtype: Any) -> bool:
    types = pd.api.types
    return (
        types.is_bool_dtype(dtype)
        or types.is_numeric_dtype(dtype)
        or types.is_datetime64_any_dtype(dtype)
        or types.is_timedelta64_dtype(dtype)
    )


def _escaped_values(values: pd.Series | pd.Index) -> np.ndarray | None:
    """The values as objects with formula-like text escaped; None when none needs it (nothing copied)."""
    dtype = values.dtype
    if _holds_no_text(dtype):
        return None
    if isinstance(dtype, pd.CategoricalDtype):
        if not any(escape_formula(label) is not label for label in dtype.categories):
            return None
        values = values.astype(object)
        dtype = values.dtype
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    text_dtype = isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and str(dtype.pyarrow_dtype) in ("string", "large_string", "string_view")
    )
    if text_dtype:
        risky = series.str.startswith(FORMULA_PREFIXES, na=False).to_numpy(dtype=bool)
    else:
        # Objects, Arrow dictionaries and anything else: only the cells that are text can be formulas.
        risky = series.map(lambda v: escape_formula(v) is not v).to_numpy(dtype=bool)
    if not risky.any():
        return None
    out = series.astype(object).to_numpy(copy=True)
    out[risky] = ["'" + str(v) for v in out[risky]]
    return out


def _escaped_index(index: pd.Index) -> pd.Index:
    """``index`` with formula-like labels and level names escaped (each level of a MultiIndex)."""
    if isinstance(index, pd.MultiIndex):
        levels = [index.get_level_values(i) for i in range(index.nlevels)]
        arrays = [level if (escaped := _escaped_values(level)) is None else escaped for level in levels]
        return pd.MultiIndex.from_arrays(arrays, names=[escape_formula(n) for n in index.names])
    escaped = _escaped_values(index)
    name = escape_formula(index.name)
    if escaped is None:
        return index.rename(name) if name is not index.name else index
    return pd.Index(escaped, dtype=object, name=name)


def escape_formulas(frame: pd.DataFrame, *, index: bool = True) -> pd.DataFrame:
    """``frame`` ready to be written as CSV: text that would run as a formula gets a leading ``'``.

    Covers every cell that holds text whatever its dtype (objects, pandas and Arrow strings,
    categories, Arrow dictionaries), the column labels and, with ``index``, the index labels and
    the index's names. Numbers, booleans and times are left as they are (a negative number is not a
    formula). ``frame`` itself is not changed; columns needing no escape are not copied.
    """
    safe = frame.copy(deep=False)
    safe.columns = _escaped_index(safe.columns)
    if index:
        safe.index = _escaped_index(safe.index)
    for position in range(safe.shape[1]):
        escaped = _escaped_values(safe.iloc[:, position])
        if escaped is not None:
            safe.isetitem(position, escaped)
    return safe
