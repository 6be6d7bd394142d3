"""A big table's filter tests cells without writing them as text: every rule agrees with Arrow's own text."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from flowdeck.store import cell_search

DIGIT_QUERIES = st.text(alphabet="0123456789", min_size=1, max_size=7)


def by_text(chunk: pa.Array, query: str) -> np.ndarray:
    """What the filter means: the cell's text (Arrow's cast to string) contains ``query``, any case."""
    text = (
        chunk
        if pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)
        else pc.cast(chunk, pa.large_string())
    )
    return pc.fill_null(cell_search.contains(text, query), False).to_numpy(zero_copy_only=False)


def by_filter(chunk: pa.Array, query: str) -> np.ndarray:
    """What the table filter finds in ``chunk`` (the numeric and byte searches where they apply)."""
    searcher = cell_search.column_searcher(chunk.type, query)
    return np.zeros(len(chunk), dtype=bool) if searcher is None else searcher(chunk)


def assert_same(chunk: pa.Array, query: str) -> None:
    expected = by_text(chunk, query)
    found = by_filter(chunk, query)
    assert found.dtype == np.bool_ and len(found) == len(chunk)
    wrong = np.flatnonzero(found != expected)
    assert not len(wrong), f"{query!r} in {[chunk[int(i)] for i in wrong[:5]]}: filter {found[wrong[:5]]}"


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), min_size=1, max_size=60),
    query=DIGIT_QUERIES,
)
@example(values=[0, 10, 100, 123, 100123, -100123, -(2**63), 2**63 - 1], query="0")
@example(values=[123, 1230, 100123, 12300], query="00123")
def test_int64_digits_match_their_text(values: list[int | None], query: str) -> None:
    assert_same(pa.array(values, pa.int64()), query)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=40),
    query=DIGIT_QUERIES,
    kind=st.sampled_from([pa.uint8(), pa.int16(), pa.uint32(), pa.uint64()]),
)
# The first digit of the widest values: below it, subtracting wraps around by less than 10^k.
@example(values=[0, 10**19, 2**64 - 1, 9 * 10**18], query="1", kind=pa.uint64())
@example(values=[0, 4 * 10**9, 2**32 - 1, 3 * 10**9], query="4", kind=pa.uint32())
def test_other_integer_widths_match_their_text(values: list[int], query: str, kind: pa.DataType) -> None:
    bits = kind.bit_width
    low, high = (0, 2**bits - 1) if pa.types.is_unsigned_integer(kind) else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    assert_same(pa.array([low + v % (high - low + 1) for v in values], kind), query)


def decimal_floats(decimals: int) -> st.SearchStrategy[float | None]:
    """Floats as decimal data has them: an integer of up to 15 digits over 10^decimals, some special."""
    digits = st.integers(-(10**12), 10**12).map(lambda n: n / 10**decimals)
    special = st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf, 1e-6, 9.99e-7, 1e9, 999999999.5, 1e15])
    return st.one_of(st.none(), digits, special)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), decimals=st.integers(0, 9), query=DIGIT_QUERIES)
@example(data=None, decimals=6, query="00123")
def test_decimal_floats_match_their_text(data: st.DataObject | None, decimals: int, query: str) -> None:
    values = (
        [0.000123, 0.0012300, 100.00123, 0.001, 12300.0, -0.5001230, 1.0]
        if data is None
        else data.draw(st.lists(decimal_floats(decimals), min_size=1, max_size=50))
    )
    assert_same(pa.array(values, pa.float64()), query)


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), min_size=1, max_size=40),
    query=DIGIT_QUERIES,
)
def test_any_floats_match_their_text(values: list[float | None], query: str) -> None:
    """Floats of any digits and size: the rule applies where it can, the text is searched where not."""
    assert_same(pa.array(values, pa.float64()), query)


def test_scientific_and_long_floats_are_left_to_the_text() -> None:
    """The numeric rule declines what it cannot decide; the filter still finds those cells by their text."""
    searcher = cell_search.digit_searcher(pa.float64(), "123")
    assert searcher is not None
    for values in ([1.23e-7, 0.5], [1.23e10], [0.1 + 0.2], [123456789012345.6]):
        chunk = pa.array(values, pa.float64())
        assert searcher(chunk) is None
        assert_same(chunk, "123")
    assert_same(pa.array([1.23e-7, 5.0]), "7")  # "1.23e-7"


TIMESTAMPS = st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59))


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), TIMESTAMPS), min_size=1, max_size=40),
    unit=st.sampled_from(["s", "ms", "us"]),
    query=DIGIT_QUERIES,
)
@example(values=[dt.datetime(2024, 2, 29, 23, 59, 59, 1230)], unit="us", query="00123")
@example(values=[dt.datetime(1000, 1, 1), dt.datetime(1969, 12, 31, 23, 59, 59, 999999)], unit="us", query="9")
def test_timestamps_match_their_text(values: list[dt.datetime | None], unit: str, query: str) -> None:
    assert_same(pa.array(values, pa.timestamp("us")).cast(pa.timestamp(unit), safe=False), query)


@settings(max_examples=60, deadline=None)
@given(
    ticks=st.lists(st.one_of(st.none(), st.integers(-(2**63) + 1, 2**63 - 1)), min_size=1, max_size=30),
    query=DIGIT_QUERIES,
)
def test_nanosecond_timestamps_match_their_text(ticks: list[int | None], query: str) -> None:
    """Nanoseconds reach years 1677-2262 only; the whole int64 range of ticks is tried."""
    assert_same(pa.array(ticks, pa.int64()).cast(pa.timestamp("ns")), query)


def test_whole_second_timestamps_hold_zeros_after_the_point() -> None:
    chunk = pa.array([dt.datetime(2024, 5, 6, 7, 8, 9), None], pa.timestamp("us"))
    assert by_filter(chunk, "000000").tolist() == [True, False]
    assert by_filter(chunk, "0000000").tolist() == [False, False]
    assert_same(chunk, "000000")


TEXTS = st.lists(st.one_of(st.none(), st.text(alphabet="aAbB0123 éÉ-", max_size=8)), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    values=TEXTS,
    query=st.text(alphabet="aAbB0123 éÉ", min_size=1, max_size=4),
    start=st.integers(0, 5),
    large=st.booleans(),
)
@example(values=["ab", "ab", "cab"], query="ba", start=0, large=False)  # runs on across rows: no match
@example(values=["xA", "Bx", "AB"], query="ab", start=0, large=True)
def test_text_cells_match_case_insensitively(values: list[str | None], query: str, start: int, large: bool) -> None:
    """The byte search finds what Arrow's kernel finds, in sliced batches too, never across two cells."""
    chunk = pa.array(values, pa.large_string() if large else pa.string())
    assert_same(chunk.slice(min(start, len(chunk) - 1)), query)


@pytest.mark.parametrize("query", ["1", "a1", "A1b", "0012", "zz"])
def test_text_with_very_many_matching_rows_is_searched_whole(query: str) -> None:
    """Every row matching (at even and odd places, any case), in a batch bigger than the sample."""
    values = [["a1B", "xA1b", "0012a1b", None, "", "zz"][i % 6] for i in range(20_000)]
    for kind in (pa.string(), pa.large_string()):
        chunk = pa.array(values, kind)
        assert_same(chunk, query)
        assert_same(chunk.slice(3), query)


def test_categories_are_searched_by_label() -> None:
    chunk = pa.array(["Online", None, "retail", "online"]).dictionary_encode()
    assert by_filter(chunk, "ONLINE").tolist() == [True, False, False, True]


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(0, 10**7), min_size=1, max_size=30), query=st.text(min_size=1, max_size=4))
def test_queries_that_are_not_digits_are_left_to_the_text(values: list[int], query: str) -> None:
    assume(not (query.isascii() and query.isdigit()))
    assert cell_search.digit_searcher(pa.int64(), query) is None
    assert_same(pa.array(values, pa.int64()), query)


def test_the_longest_query_a_request_takes_is_answered() -> None:
    """A filter query is up to 200 characters: as digits it is longer than any number's text, and matches nothing."""
    query = "9" * 200
    for chunk in (
        pa.array([2**63 - 1, -(2**63), 0], pa.int64()),
        pa.array([999999999.5, 0.999999999, -0.0]),
        pa.array([dt.datetime(9999, 12, 31, 23, 59, 59, 999999)], pa.timestamp("us")),
        pa.array(["9" * 199, "9" * 200]),
    ):
        assert_same(chunk, query)
    assert by_filter(pa.array(["9" * 200]), query).tolist() == [True]
