"""Upload parsing under attack: decompression bombs, memory, time, concurrency, odd but valid text.

Each attack is performed for real: the files are built as an attacker would build them and handed
to the parser (and, in the slow test, uploaded to a server in its own process).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import flowdeck
from flowdeck import formats
from flowdeck.config import configure, reconfigure
from flowdeck.errors import ValidationError
from flowdeck.formats import ParseLimits, check_format, detect_format, parse_table

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MiB = 1024 * 1024


# --- the attacks' files ------------------------------------------------------------------------------


def parquet_dictionary_bomb(rows: int = 3000, length: int = MiB) -> bytes:
    """One ``length``-byte string in a dictionary page, referenced by every row (no pandas schema)."""
    indices = pa.array([0] * rows, pa.int32())
    column = pa.DictionaryArray.from_arrays(indices, pa.array(["x" * length]))
    buffer = io.BytesIO()
    pq.write_table(
        pa.table({"s": column}),
        buffer,
        store_schema=False,
        compression="zstd",
        compression_level=19,
        write_statistics=False,
    )
    return buffer.getvalue()


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
_PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
    '<Relationship Id="rId2" Target="sharedStrings.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/></Relationships>'
)


def _letters(number: int) -> str:
    out = ""
    while number:
        number, rest = divmod(number - 1, 26)
        out = chr(65 + rest) + out
    return out


def workbook(
    rows: int,
    columns: int,
    *,
    dimension: str | None = None,
    references: bool = False,
    extra_rows: bytes = b"",
    unused_strings: int = 0,
) -> bytes:
    """An .xlsx written by hand: a header row ``c0, c1, ...`` and ``rows - 1`` rows of numbers.

    Without ``references`` every data row is the same bytes ``<row><c><v>1</v></c>...</row>``, so that
    millions of cells compress to about a megabyte, as in the attack. The header's texts are shared
    strings, followed by ``unused_strings`` more.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _PACKAGE_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        texts = [f"c{i}" for i in range(columns)] + [f"w{i}" for i in range(unused_strings)]
        archive.writestr(
            "xl/sharedStrings.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" uniqueCount="{len(texts)}">'
            + "".join(f"<si><t>{text}</t></si>" for text in texts)
            + "</sst>",
        )
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            declared = f'<dimension ref="{dimension}"/>' if dimension else ""
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                + declared.encode()
                + b"<sheetData>"
            )
            header = b"".join(b'<c t="s"><v>%d</v></c>' % i for i in range(columns))
            sheet.write(b"<row>" + header + b"</row>")
            if references:
                letters = [_letters(c + 1).encode() for c in range(columns)]
                for row in range(2, rows + 1):
                    cells = b"".join(b'<c r="%s%d"><v>%d</v></c>' % (col, row, row) for col in letters)
                    sheet.write(b'<row r="%d">' % row + cells + b"</row>")
            else:
                row = b"<row>" + b"<c><v>1</v></c>" * columns + b"</row>"
                left = rows - 1
                while left > 0:
                    sheet.write(row * min(left, 4096))
                    left -= 4096
            sheet.write(extra_rows + b"</sheetData></worksheet>")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def xlsx_bomb() -> bytes:
    """A workbook of 20,000,000 cells (1,000,000 rows x 20 columns) in about 1.3 MB."""
    return workbook(1_000_000, 20)


def _frame_of_ones(rows: int, columns: int) -> pd.DataFrame:
    return pd.DataFrame({f"c{i}": np.ones(rows - 1, dtype="int64") for i in range(columns)})


# --- decompression bombs (finding 3) ---------------------------------------------------------------


def test_parquet_dictionary_bomb_is_refused_before_it_is_decoded() -> None:
    bomb = parquet_dictionary_bomb()
    assert len(bomb) < 600  # a few hundred bytes standing for 3,000 x 1 MiB of text
    assert detect_format(bomb, "bomb.csv") == "parquet"
    started = time.monotonic()
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "'bomb.parquet' would decode to more than 3,145,728,000 bytes, over the limit of "
            "1,073,741,824 bytes (setting max_decoded_bytes)"
        ),
    ):
        parse_table(bomb, "bomb.parquet", limits=ParseLimits())
    assert time.monotonic() - started < 5
    # The same file under the limit parses to exactly what was written.
    small = parquet_dictionary_bomb(rows=300, length=1000)
    expected = pd.DataFrame({"s": pd.Series(["x" * 1000] * 300, dtype="str")})
    pd.testing.assert_frame_equal(parse_table(small, "small.parquet", limits=ParseLimits()), expected)
    with pytest.raises(ValidationError, match=r"would decode to more than 300,000 bytes, over the limit of 299,999"):
        parse_table(small, "small.parquet", limits=ParseLimits(max_decoded_bytes=299_999))


def test_parquet_bomb_nested_in_lists_and_structs_is_refused() -> None:
    words = pa.DictionaryArray.from_arrays(pa.array([0] * 4000, pa.int32()), pa.array(["y" * 100_000]))
    nested = pa.ListArray.from_arrays(pa.array(range(0, 4001, 4), pa.int32()), words)
    record = pa.StructArray.from_arrays([words], names=["f"])
    for name, column in (("lists", nested), ("structs", record)):
        buffer = io.BytesIO()
        pq.write_table(pa.table({"n": column}), buffer, store_schema=False, compression="zstd")
        with pytest.raises(ValidationError, match=r"would decode to more than 400,000,000 bytes.*max_decoded_bytes"):
            parse_table(buffer.getvalue(), f"{name}.parquet", limits=ParseLimits(max_decoded_bytes=100 * MiB))


def test_parquet_declared_rows_and_sizes_are_checked_from_the_metadata() -> None:
    frame = pd.DataFrame({"a": np.zeros(100_000), "b": np.arange(100_000)})
    data = frame.to_parquet(index=False)
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "'wide.parquet' declares 200,000 cells, over the limit of 199,999 cells (setting max_upload_cells)"
        ),
    ):
        parse_table(data, "wide.parquet", limits=ParseLimits(max_cells=199_999))
    with pytest.raises(
        ValidationError, match=r"'zeros.parquet' declares column data of 1,\d{3},\d{3} bytes, over the limit"
    ):
        parse_table(data, "zeros.parquet", limits=ParseLimits(max_decoded_bytes=900_000))
    # Dictionary-encoded values take less room in the file than in memory: their width is checked too.
    with pytest.raises(ValidationError, match=r"'zeros.parquet' declares values of 1,600,000 bytes, over the limit"):
        parse_table(data, "zeros.parquet", limits=ParseLimits(max_decoded_bytes=1_500_000))
    pd.testing.assert_frame_equal(parse_table(data, "ok.parquet", limits=ParseLimits(max_cells=200_000)), frame)


def test_xlsx_with_20_million_cells_is_refused_at_once(xlsx_bomb: bytes) -> None:
    assert len(xlsx_bomb) < 2 * MiB
    assert detect_format(xlsx_bomb, "bomb.xlsx") == "xlsx"
    started = time.monotonic()
    with pytest.raises(
        ValidationError,
        match=re.escape("'bomb.xlsx' is a zip bomb: xl/worksheets/sheet1.xml would decompress from "),
    ):
        parse_table(xlsx_bomb, "bomb.xlsx", limits=ParseLimits())
    # Even with the ratio allowed, the cells are counted before openpyxl sees one.
    with pytest.raises(
        ValidationError,
        match=re.escape("'bomb.xlsx' has a sheet (sheet1) of more than 1"),
    ):
        formats._check_sheet(
            zipfile.ZipFile(io.BytesIO(xlsx_bomb)),
            zipfile.ZipFile(io.BytesIO(xlsx_bomb)).getinfo("xl/worksheets/sheet1.xml"),
            formats._Budget("bomb.xlsx", ParseLimits(max_sheet_cells=100_000)),
        )
    assert time.monotonic() - started < 10
    # The same workbook, small, reads back exactly.
    pd.testing.assert_frame_equal(
        parse_table(workbook(50, 20), "small.xlsx", limits=ParseLimits()), _frame_of_ones(50, 20)
    )


def test_xlsx_declared_dimension_over_the_limit() -> None:
    data = workbook(10, 2, dimension="A1:T1000000")
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "'dim.xlsx' declares a sheet (sheet1) of 20,000,000 cells, over the limit of 2,000,000 cells "
            "(setting max_sheet_cells)"
        ),
    ):
        parse_table(data, "dim.xlsx", limits=ParseLimits())


def test_xlsx_with_a_false_dimension_is_counted() -> None:
    data = workbook(600, 20, dimension="A1:B2", references=True)  # 12,000 cells in truth
    with pytest.raises(
        ValidationError,
        match=re.escape("'lie.xlsx' has a sheet (sheet1) of more than 12,000 cells, over the limit of 11,999 cells"),
    ):
        parse_table(data, "lie.xlsx", limits=ParseLimits(max_sheet_cells=11_999))
    frame = parse_table(data, "lie.xlsx", limits=ParseLimits(max_sheet_cells=12_000))
    assert frame.shape == (599, 20)
    assert frame["c0"].tolist() == list(range(2, 601))


def test_xlsx_gaps_that_openpyxl_would_fill_count_as_cells() -> None:
    far_cell = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    data = workbook(3, 2, extra_rows=far_cell)
    with pytest.raises(
        ValidationError,
        match=re.escape("'gap.xlsx' has a sheet (sheet1) spanning 17,179,869,184 cells, over the limit"),
    ):
        parse_table(data, "gap.xlsx", limits=ParseLimits())


def test_xlsx_zip_members_and_shared_strings_are_bounded() -> None:
    data = workbook(3, 2, unused_strings=5000)
    with pytest.raises(ValidationError, match=r"'s.xlsx' would decompress to \d[\d,]* bytes, over the limit of 10,000"):
        parse_table(data, "s.xlsx", limits=ParseLimits(max_decoded_bytes=10_000))
    with pytest.raises(
        ValidationError,
        match=re.escape("'s.xlsx' has shared strings for 5,002 cells, over the limit of 5,001 cells"),
    ):
        parse_table(data, "s.xlsx", limits=ParseLimits(max_cells=5001))
    pd.testing.assert_frame_equal(parse_table(data, "s.xlsx", limits=ParseLimits(max_cells=5002)), _frame_of_ones(3, 2))


def _understate(data: bytes, member: str, size: int) -> bytes:
    """``data`` with the uncompressed size of ``member`` set to ``size`` in its local and central headers."""
    name = member.encode()
    out = bytearray(data)
    for signature, name_offset, size_offset in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
        start = 0
        while (local := out.find(signature, start)) != -1:
            if out[local + name_offset : local + name_offset + len(name)] == name:
                out[local + size_offset : local + size_offset + 4] = size.to_bytes(4, "little")
                break
            start = local + 4
    return bytes(out)


def test_xlsx_that_understates_a_member_is_not_decompressed_past_it() -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"n": range(50_000)}).to_excel(buffer, index=False)
    liar = _understate(buffer.getvalue(), "xl/worksheets/sheet1.xml", 1000)
    assert zipfile.ZipFile(io.BytesIO(liar)).getinfo("xl/worksheets/sheet1.xml").file_size == 1000
    # zipfile stops at the declared size, so the checks above are binding; the cut sheet is damaged.
    with pytest.raises(ValidationError, match=re.escape("'liar.xlsx' is not an Excel workbook")):
        parse_table(liar, "liar.xlsx", limits=ParseLimits())


# --- time and concurrency ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("csv", b"a,b\n" + b"1,2\n" * 1000),
        ("xlsx", workbook(100, 3)),
        ("parquet", pd.DataFrame({"s": ["x"] * 100}).to_parquet()),
        ("json", json.dumps([{"a": 1}] * 100).encode()),
    ],
)
def test_a_parse_over_its_time_limit_is_stopped(fmt: str, data: bytes) -> None:
    with pytest.raises(
        ValidationError,
        match=re.escape(f"'slow.{fmt}' takes longer than 1e-09 s to parse, the limit (setting max_parse_seconds)"),
    ):
        parse_table(data, f"slow.{fmt}", limits=ParseLimits(max_seconds=1e-9))


@pytest.mark.slow
def test_openpyxl_is_stopped_at_the_time_limit_while_it_reads() -> None:
    # Big enough that a whole parse takes seconds, so a busy machine's jitter is small beside it.
    data = workbook(60_000, 10, references=True)
    started = time.monotonic()
    parse_table(data, "long.xlsx", limits=ParseLimits())
    full = time.monotonic() - started
    started = time.monotonic()
    with pytest.raises(ValidationError, match="takes longer than"):
        parse_table(data, "long.xlsx", limits=ParseLimits(max_seconds=full / 6))
    assert time.monotonic() - started < full * 0.6


@pytest.fixture
def settings_home(tmp_path: Path) -> Iterator[Path]:
    """Settings of a fresh home (no storage is opened), put back to plain ones afterwards."""
    configure(home=str(tmp_path))
    yield tmp_path
    configure(home=str(tmp_path))


def test_concurrent_parses_are_capped(settings_home: Path) -> None:
    reconfigure(max_concurrent_parses=1)
    limits = ParseLimits(max_seconds=0.3)
    data = b"a,b\n1,2\n"
    with (
        formats._parse_slot("other.csv", limits),
        pytest.raises(
            ValidationError,
            match=re.escape(
                "'mine.csv' cannot be parsed now: 1 other uploads are being parsed (setting max_concurrent_parses)"
            ),
        ),
    ):
        parse_table(data, "mine.csv", limits=limits)
    assert parse_table(data, "mine.csv", limits=limits).shape == (1, 2)
    # With two slots, two parses run side by side and a third waits for one of them.
    reconfigure(max_concurrent_parses=2)
    running, most = 0, 0
    lock = threading.Lock()
    real = formats._parse_delimited

    def counting(*args: Any) -> pd.DataFrame:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.2)
        with lock:
            running -= 1
        return real(*args)

    formats._parse_delimited = counting
    try:
        threads = [threading.Thread(target=parse_table, args=(data, f"{i}.csv")) for i in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        formats._parse_delimited = real
    assert most == 2


def test_limits_come_from_the_settings(settings_home: Path) -> None:
    reconfigure(max_upload_cells=3, max_sheet_cells=7, max_decoded_bytes=1000, max_parse_seconds=2.5)
    assert ParseLimits.from_settings() == ParseLimits(
        max_decoded_bytes=1000, max_cells=3, max_sheet_cells=7, max_seconds=2.5
    )
    with pytest.raises(ValidationError, match=re.escape("'t.csv' has more than 4 cells, over the limit of 3 cells")):
        parse_table(b"a,b\n1,2\n3,4\n", "t.csv")
    from flowdeck.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="setting max_concurrent_parses must be above zero, got 0"):
        reconfigure(max_concurrent_parses=0)


# --- memory (finding 5) -----------------------------------------------------------------------------

_MEASURE = """
import json, sys
from flowdeck.formats import ParseLimits, parse_table
def memory(key):
    # From /proc, not getrusage: a child's ru_maxrss starts at its parent's size at fork.
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(key + ":"))
with open(sys.argv[1], "rb") as fh:
    data = fh.read()
before = memory("VmRSS")
frame = parse_table(data, "big.csv", "csv", limits=ParseLimits())
peak = memory("VmHWM")
print(json.dumps({"growth": (peak - before) / len(data), "shape": list(frame.shape), "before": before, "peak": peak}))
"""


def _big_csv(rows: int) -> bytes:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "amount": rng.normal(size=rows).round(4),
            "region": rng.choice(["north", "south", "east", "wést"], rows),
            "active": rng.choice([True, False], rows),
            "note": rng.choice(["quoted, with a comma", "plain", ""], rows),
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, rows), "s"),
        }
    )
    return frame.to_csv(index=False).encode()


@pytest.mark.slow
def test_csv_parse_peaks_under_three_times_the_file_size(tmp_path: Path) -> None:
    data = _big_csv(800_000)
    assert len(data) > 30 * 1000 * 1000
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    env = {**os.environ, "FLOWDECK_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["shape"] == [800_000, 6]
    assert result["growth"] <= 3.0, result


# --- exact round trips against the parser before streaming -----------------------------------------


def reference_parse(data: bytes, sep: str) -> pd.DataFrame:
    """What the parser did before: decode all of the file, then pandas on the text."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("latin-1")
    return pd.read_csv(io.StringIO(text), sep=sep)


_VALUES = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NA", "null", "nan", "True", "false", "2024-01-31", "2024-01-31 12:00:00", "1e5", "-0"]),
    st.text(
        alphabet=st.characters(codec="cp1252", exclude_characters="\x00\r", exclude_categories=("Cs",)),
        max_size=12,
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 5),
    data=st.data(),
    sep=st.sampled_from([",", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
)
def test_csv_parses_exactly_as_before(width: int, data: st.DataObject, sep: str, encoding: str) -> None:
    header = data.draw(
        st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True), min_size=width, max_size=width, unique=True)
    )
    # A column keeps one kind of value or mixes them, as real exports do.
    rows = data.draw(st.lists(st.lists(_VALUES, min_size=width, max_size=width), min_size=1, max_size=12))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    assume(text.strip())
    raw = text.encode(encoding)
    try:
        expected = reference_parse(raw, sep)
    except Exception:  # the old parser refused it: so may the new one, with a ValidationError
        with pytest.raises(ValidationError):
            parse_table(raw, "data.csv", "csv" if sep == "," else "tsv", limits=ParseLimits())
        return
    parsed = parse_table(raw, "data.csv", "csv" if sep == "," else "tsv", limits=ParseLimits())
    pd.testing.assert_frame_equal(parsed, expected)


# --- low items --------------------------------------------------------------------------------------


def test_csv_fields_over_128_kib_are_accepted() -> None:
    for size in (200 * 1024, 3 * MiB):  # the second is longer than one block of the checking pass
        long = "z" * size
        data = f'id,text\n1,"{long}"\n2,short\n'.encode()
        frame = parse_table(data, "long.csv", limits=ParseLimits())
        expected = pd.DataFrame({"id": [1, 2], "text": pd.Series([long, "short"], dtype="str")})
        pd.testing.assert_frame_equal(frame, expected)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_csv_are_accepted(encoding: str) -> None:
    frame = pd.DataFrame(
        {"name": pd.Series(["José", "Zoë", "中文"], dtype="str"), "n": [1, 2, 3], "x": [0.5, 1.5, -2.0]}
    )
    text = frame.to_csv(index=False)
    data = text.encode(encoding)
    if encoding == "utf-16-le":
        assert not data.startswith(codecs.BOM_UTF16_LE)  # no byte order mark: told by its zero bytes
    assert detect_format(data, "wide.csv") == "csv"
    assert check_format(data, "wide.csv", ["csv"]) == "csv"
    pd.testing.assert_frame_equal(parse_table(data, "wide.csv", limits=ParseLimits()), frame)
    tabbed = frame.to_csv(index=False, sep="\t").encode(encoding)
    assert detect_format(tabbed, "wide.tsv") == "tsv"
    pd.testing.assert_frame_equal(parse_table(tabbed, "wide.tsv", limits=ParseLimits()), frame)


def test_binary_with_zero_bytes_is_still_binary() -> None:
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    assert detect_format(image, "x.csv") == "binary"
    halves = np.arange(5000, dtype="<u2").tobytes()  # zero in every other byte, but not text
    assert detect_format(halves, "x.csv") == "binary"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "the JSON is nested too deeply to be a table"),
        (b'{"a": 1}\n' + b"[" * 100_000 + b"]" * 100_000 + b"\n", "line 2 of the JSON Lines is nested too deeply"),
        (b'[{"a": {"b": 1}}]', "column 'a' holds nested JSON (an object) in row 1"),
        (b'[{"a": 1}, {"a": [1, 2]}]', "column 'a' holds nested JSON (a list) in row 2"),
        (b'{"a": [[1, 2], [3]]}', "column 'a' holds nested JSON (a list) in row 1"),
        (b'{"schema": 1, "data": 2}', "the JSON columns do not form a table"),
        (b'{"columns": 1, "data": 2}', "the JSON columns do not form a table"),
        (b'{"columns": ["a"], "data": [[1, 2]]}', "the JSON columns do not form a table"),
    ],
)
def test_nested_or_malformed_json_is_a_validation_error(document: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape("'n.json'")) as caught:
        parse_table(document, "n.json", limits=ParseLimits())
    assert message in str(caught.value)


def test_flat_json_still_parses_within_its_memory_estimate() -> None:
    records = [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    data = json.dumps(records).encode()  # 3 commas and 4 colons: 8 values at most
    expected = pd.DataFrame.from_records(records)
    pd.testing.assert_frame_equal(parse_table(data, "f.json", limits=ParseLimits()), expected)
    estimate = len(data) + 8 * 72
    with pytest.raises(
        ValidationError,
        match=re.escape(f"'f.json' would take about {estimate:,} bytes, over the limit of {estimate - 1:,} bytes"),
    ):
        parse_table(data, "f.json", limits=ParseLimits(max_decoded_bytes=estimate - 1))


class Endless(io.RawIOBase):
    """A binary stream that never ends (a pipe from a hostile producer); counts what was read."""

    def __init__(self) -> None:
        self.given = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        view[:] = b"1" * len(view)
        self.given += len(view)
        return len(view)


def test_a_file_object_is_read_only_up_to_the_upload_limit(deployment: str) -> None:
    reconfigure(max_upload_bytes=1000)
    from fixtures.upload_flows import any_table

    run = flowdeck.start(any_table, user="alice")
    stream = Endless()
    with pytest.raises(
        ValidationError,
        match=re.escape("file 'endless.csv' is larger than the upload limit of 1,000 bytes (setting max_upload_bytes)"),
    ):
        run.upload("Table", "endless.csv", io.BufferedReader(stream))
    assert stream.given <= 1000 + io.DEFAULT_BUFFER_SIZE
    run.upload("Table", "fine.csv", io.BytesIO(b"a,b\n1,2\n"))
    assert run.page().get_element_by_title("Table").value["filename"] == "fine.csv"


# --- through the server, in its own process --------------------------------------------------------

_SERVER = """
import sys
import uvicorn
from flowdeck.server import create_app
uvicorn.run(create_app([sys.argv[1]]), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""
_PASSWORDS = {"alice": "alice-password", "bob": "bob-password"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """``flowdeck``'s server app under uvicorn in a subprocess, with alice and bob; yields (url, pid)."""
    home = tmp_path / "home"
    home.mkdir()
    configure(home=str(home), database_url=None, blob_url=None)
    for name, password in _PASSWORDS.items():
        flowdeck.add_user(name, password=password)
    from flowdeck.storage.deployment import reset_storage

    reset_storage()
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWDECK_")}
    env["FLOWDECK_HOME"] = str(home)
    spec = f"{FIXTURES / 'upload_flows.py'}:any_table"
    process = subprocess.Popen([sys.executable, "-c", _SERVER, spec, str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/flows", timeout=1).status_code in (200, 401):
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


def _client(url: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/api/login", json={"name": name, "password": _PASSWORDS[name]})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


@pytest.mark.slow
def test_bombs_uploaded_to_the_server_are_refused_without_harm(server: tuple[str, int], xlsx_bomb: bytes) -> None:
    url, pid = server
    alice, bob = _client(url, "alice"), _client(url, "bob")
    created = alice.post("/api/runs", json={"flow": "Any table"})
    assert created.status_code == 201, created.text
    run_id = created.json()["flow_id"]
    deadline = time.monotonic() + 30
    while alice.get(f"/api/runs/{run_id}").json()["state"] != "awaiting_input":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    upload = f"/api/runs/{run_id}/steps/Load/elements/Table/upload"
    # Warm up: good files of each kind, so that every parser is loaded before memory is measured.
    good = {
        "ok.csv": b"a,b\n1,2\n",
        "ok.xlsx": workbook(5, 2),
        "ok.parquet": parquet_dictionary_bomb(rows=10, length=10),
    }
    for filename, content in good.items():
        response = alice.post(upload, files={"file": (filename, content)})
        assert response.status_code == 200, response.text
    before = _memory(pid)["VmRSS"]

    latencies: list[float] = []
    stop = threading.Event()

    def other_user() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            response = bob.get("/api/runs")
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200
            time.sleep(0.01)

    watcher = threading.Thread(target=other_user)
    watcher.start()
    try:
        time.sleep(0.3)
        attacks = [
            ("bomb.parquet", parquet_dictionary_bomb(), "max_decoded_bytes"),
            ("bomb.xlsx", xlsx_bomb, "zip bomb"),
        ]
        for _ in range(3):
            for filename, content, reason in attacks:
                response = alice.post(upload, files={"file": (filename, content)})
                assert response.status_code == 422, response.text
                assert response.json()["error"] == "ValidationError"
                assert reason in response.json()["detail"]
        time.sleep(0.3)
    finally:
        stop.set()
        watcher.join()
    growth = _memory(pid)["VmHWM"] - before
    assert growth < 300 * MiB, f"the server grew by {growth / MiB:.0f} MiB"
    assert len(latencies) >= 20
    p99 = statistics.quantiles(latencies, n=100)[98]
    assert p99 < 0.2, f"other users waited {p99 * 1000:.0f} ms (p99)"
    # The run is unchanged: the refused files left no upload behind, the last good one stands.
    page = alice.get(f"/api/runs/{run_id}/steps/Load/page").json()
    assert json.dumps(page).count("ok.parquet") == 1
    # The low items, through the same endpoint: a reason for nested JSON and a mislabelled file,
    # while UTF-16 text and long fields are accepted.
    nested = alice.post(upload, files={"file": ("nested.json", b'[{"a": {"b": 1}}]')})
    assert nested.status_code == 422, nested.text
    assert "column 'a' holds nested JSON (an object) in row 1" in nested.json()["detail"]
    deep = alice.post(upload, files={"file": ("deep.json", b"[" * 100_000 + b"]" * 100_000)})
    assert deep.status_code == 422, deep.text
    assert "nested too deeply" in deep.json()["detail"]
    notes = alice.post(upload, files={"file": ("notes.txt", b"some notes, not a table\n")})
    assert notes.status_code == 422, notes.text
    assert "'notes.txt' has extension .txt, but this upload accepts .csv" in notes.json()["detail"]
    wide = alice.post(upload, files={"file": ("wide.csv", "a,b\nJosé,1\n".encode("utf-16"))})
    assert wide.status_code == 200, wide.text
    long = alice.post(upload, files={"file": ("long.csv", b"a,b\n" + b"x" * 300_000 + b",1\n")})
    assert long.status_code == 200, long.text
