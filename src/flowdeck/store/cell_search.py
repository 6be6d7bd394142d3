"""Which cells of a table's batch hold a query in their text, found faster than by Arrow's kernels.

A table filter keeps the rows where any cell's text contains the query, in any case (see
:mod:`flowdeck.store.tables`). :func:`column_searcher` gives the test for one batch of one column:
category labels searched once per dictionary, and the two searches below where they decide, with
Arrow's ``match_substring`` of the cells' text where they do not; all give the same answer.

Text cells (:func:`text_searcher`): the query is looked for in the batch's character data where it
lies (no copy), with NumPy, which lets the other batches' searches run meanwhile: the places where
the query's least common pair of bytes stands (read as 16-bit words at even and at odd places, any
case of a letter) are checked for its other bytes, and each match is placed in its row by the
offsets (a match running on into the next row's text is none).

Numbers (:func:`digit_searcher`): the text of a number is what Arrow's cast to string writes:
``-1234`` for an int, ``0.059444`` or ``1e-7`` for a float (the shortest digits that read back as
the same double), ``2024-07-25 11:11:12.000000`` for a timestamp in microseconds. Writing millions
of numbers as text costs ~100 ns each, so a query of digits only (a code such as ``00123``) is
answered from the values, with unsigned integer arithmetic:

- a run of ``L`` digits is in the text of a non-negative integer ``a`` iff, for some ``k``, the ``L``
  digits that begin ``k`` places from the right equal the query and ``a`` has at least ``k + L``
  digits, with ``0`` written ``"0"``;
- a float written in plain notation is ``[-]I[.F]``: a batch whose floats all equal
  ``round(x·10^d)/10^d`` for one ``d <= 9`` (decimal data: prices, scores, measurements), in no
  more than 15 significant digits, is written with exactly those digits, trailing zeros of the
  fraction dropped; the query is then in ``I`` or in the kept digits of ``F`` (no run of digits
  crosses the point);
- a timestamp's fields are written zero-padded and apart (``-``, ``:``, `` ``, ``.``), so the query
  is in one field: the fraction of a second, or (for four digits or fewer) the year, or (two or
  fewer) the month, day, hour, minute or second.

A batch outside what these rules cover (floats of 16 and more significant digits, floats Arrow
writes in scientific notation, years before 1000 or after 9999) gets None, and the caller searches
its text. The tests compare every rule with Arrow's own text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["column_searcher", "contains", "digit_searcher", "text_searcher"]

# Arrow writes a float in plain notation when 1e-6 <= |x| < 1e10 (a margin keeps clear of the top).
_PLAIN_LOW, _PLAIN_HIGH = 1e-6, 1e9
_MAX_DECIMALS = 9
# Fields of up to this many digits, where a run can start at this many places or more, are tested by
# looking every possible value up (a table of up to a million bytes), which costs about four places.
_TABLE_WIDTH = 6
_TABLE_FROM_RUNS = 4
# Digits after the point of a timestamp's text, by unit.
_FRACTION_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
_UNITS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
# Timestamps of years 1000-9999 (their text has a four-digit year), in seconds since 1970.
_FIRST_SECOND, _END_SECOND = -30_610_224_000, 253_402_300_800
_DAY = 86_400
# Bytes of a batch's text sampled to choose the least common pair of the query's bytes.
_SAMPLE_BYTES = 4_096
# Days from 0000-03-01 to 1970-01-01: day numbers the civil-date algorithm takes.
_EPOCH_SHIFT = 719_468

Searcher = Callable[[pa.Array], "np.ndarray | None"]
Test = Callable[[pa.Array], np.ndarray]


def column_searcher(data_type: pa.DataType, query: str) -> Test | None:
    """How to test one batch of a column of ``data_type`` for cells whose text contains ``query``, any case.

    The test returns which cells hold it (null cells do not): the fast searches below where they
    decide, Arrow's ``match_substring`` of the cells' text otherwise. None when no cell's text could
    hold ``query`` (digits of a query with letters, say).
    """
    if pa.types.is_dictionary(data_type):
        return _label_searcher(query)
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return _or_by_text(text_searcher(query), query, as_text=False)
    if not _could_contain(data_type, query):
        return None
    return _or_by_text(digit_searcher(data_type, query), query, as_text=True)


def contains(text: pa.Array | pa.ChunkedArray, query: str) -> pa.Array | pa.ChunkedArray:
    """Arrow's case-insensitive substring test of ``text``: a plain search when case cannot matter or is ASCII."""
    if query.lower() == query.upper():
        return pc.match_substring(text, query)
    if query.isascii():
        return pc.match_substring(pc.ascii_lower(text), query.lower())
    return pc.match_substring(text, query, ignore_case=True)


def _or_by_text(fast: Searcher | None, query: str, *, as_text: bool) -> Test:
    """``fast`` where it decides a batch, else Arrow's search of its cells (written as text first if ``as_text``)."""

    def test(chunk: pa.Array) -> np.ndarray:
        found = None if fast is None else fast(chunk)
        if found is not None:
            return found
        text = pc.cast(chunk, pa.large_string()) if as_text else chunk
        return pc.fill_null(contains(text, query), False).to_numpy(zero_copy_only=False)

    return test


def _label_searcher(query: str) -> Test:
    """Categories: each distinct label is searched once, then each row's code looked up.

    Batches read from one stored table share one dictionary: its labels are searched once for all.
    """
    searched: dict[tuple[int, ...], np.ndarray] = {}

    def labels(chunk: pa.Array) -> np.ndarray:
        dictionary = chunk.dictionary
        where = (len(dictionary), *(b.address if b is not None else 0 for b in dictionary.buffers()))
        hit = searched.get(where)
        if hit is None:
            hit = searched[where] = _or_by_text(None, query, as_text=True)(dictionary)
        codes = chunk.indices
        return _only_valid(hit[_numbers(codes)], codes)

    return labels


def _could_contain(data_type: pa.DataType, query: str) -> bool:
    """Whether the text form of a value of ``data_type`` could contain ``query`` at all."""
    chars = set(query.lower())
    if pa.types.is_integer(data_type):
        return chars <= set("0123456789-")
    if pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return chars <= set("0123456789.-+einaf")
    if pa.types.is_timestamp(data_type) and data_type.tz is not None:
        return chars <= set("0123456789-:. z")  # "2024-01-01 00:00:00.000000Z"
    if pa.types.is_temporal(data_type):
        return chars <= set("0123456789-:. ")
    if pa.types.is_boolean(data_type):
        return chars <= set("truefals")
    return True


def digit_searcher(data_type: pa.DataType, query: str) -> Searcher | None:
    """A test of one batch of ``data_type`` for cells whose text contains ``query``, a run of digits.

    The test returns which cells hold it (null cells do not), or None for a batch it cannot decide
    from the values. None instead of a test when ``query`` is not ASCII digits or the type
    has no rule here.
    """
    if not (query.isascii() and query.isdigit()):
        return None
    if pa.types.is_integer(data_type):
        return lambda chunk: _integer_hits(chunk, query)
    if pa.types.is_float64(data_type):
        return lambda chunk: _float_hits(chunk, query)
    if pa.types.is_timestamp(data_type) and data_type.tz is None:
        return lambda chunk: _timestamp_hits(chunk, query)
    return None


def text_searcher(query: str) -> Searcher | None:
    """A test of one batch of a string column for cells containing ``query`` (ASCII letters in any case).

    The test returns which cells hold it (null cells do not). None instead of a test for a
    non-ASCII query.
    """
    if not query or not query.isascii():
        return None
    needle = np.frombuffer(query.lower().encode(), dtype=np.uint8)
    fold = query.lower() != query.upper()
    return lambda chunk: _text_hits(chunk, needle, fold)


def _text_hits(chunk: pa.Array, needle: np.ndarray, fold: bool) -> np.ndarray:
    _, offset_buffer, data_buffer = chunk.buffers()
    hits = np.zeros(len(chunk), dtype=bool)
    if not len(chunk) or data_buffer is None:
        return hits
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(offset_buffer, dtype=width)[chunk.offset : chunk.offset + len(chunk) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    starts = _needle_starts(data_buffer, first, last, needle, fold)
    if len(starts):
        ends = offsets[1:] - first
        rows = np.searchsorted(ends, starts, side="right")
        hits[rows[starts + len(needle) <= ends[rows]]] = True
    return _only_valid(hits, chunk)


def _needle_starts(buffer: pa.Buffer, first: int, last: int, needle: np.ndarray, fold: bool) -> np.ndarray:
    """Where ``needle`` begins in ``buffer[first:last]`` (counted from ``first``); letters in any case with ``fold``."""
    data = np.frombuffer(buffer, dtype=np.uint8, count=last)[first:]  # searched where it lies: no copy
    size, length = len(data), len(needle)
    if size < length:
        return np.empty(0, dtype=np.intp)
    # With fold, a lowercase letter of the needle also matches its uppercase (ASCII: one bit apart).
    cases = [[int(b)] + ([int(b) ^ 0x20] if fold and 97 <= b <= 122 else []) for b in needle]
    limit = size - length + 1  # the last place a match can begin, plus one
    if length == 1:
        return np.flatnonzero(_any_equal(data, cases[0]))
    anchor = _rarest_pair(data[:_SAMPLE_BYTES], cases)
    # The pair as the 16-bit words the view below reads (in this machine's byte order).
    words = [
        int(np.frombuffer(bytes([lo, hi]), dtype=np.uint16)[0]) for lo in cases[anchor] for hi in cases[anchor + 1]
    ]
    found = []
    for shift in (0, 1):
        begin = anchor + shift
        view = np.frombuffer(buffer, dtype=np.uint16, count=max(0, (size - begin) // 2), offset=first + begin)
        at = np.flatnonzero(_any_equal(view, words)) * 2 + shift
        found.append(at[at < limit])
    starts = np.concatenate(found)
    for place in range(length):
        if place in (anchor, anchor + 1) or not len(starts):
            continue
        starts = starts[_any_equal(data[starts + place], cases[place])]
    return starts


def _rarest_pair(sample: np.ndarray, cases: list[list[int]]) -> int:
    """The place of the pair of needle bytes seen least often in ``sample`` (the first of the rarest)."""
    matches = [_any_equal(sample, options) for options in cases]
    counts = [int(np.count_nonzero(matches[i][:-1] & matches[i + 1][1:])) for i in range(len(cases) - 1)]
    return counts.index(min(counts))


def _any_equal(values: np.ndarray, options: list[int]) -> np.ndarray:
    equal = values == options[0]
    for option in options[1:]:
        equal |= values == option
    return equal


# --------------------------------------------------------------------------- runs of digits


def _unsigned(values: np.ndarray, top: int) -> np.ndarray:
    """Non-negative ``values`` (none above ``top``) as uint32 if they fit, else uint64.

    numpy divides unsigned integers by a constant with a multiply and a shift, the narrower the faster.
    """
    return values.astype(np.uint32 if top < 2**32 else np.uint64, copy=False)


def _window_is(values: np.ndarray, top: int, k: int, length: int, wanted: int) -> np.ndarray:
    """Whether the ``length`` digits of ``values`` that begin ``k`` places from the right equal ``wanted``."""
    kind = values.dtype.type
    if wanted * 10**k > top:
        return np.zeros(len(values), dtype=bool)  # no value is that large (nor fits the constants below)
    modulus = 10 ** (k + length)
    rest = values if modulus > top else values - values // kind(modulus) * kind(modulus)
    low, span = wanted * 10**k, 10**k
    if low + span > 2 ** (8 * values.dtype.itemsize):
        # The window's range reaches past the type's largest value (every rest is below its end),
        # and a rest below it would not wrap far enough for the compare below: one bound suffices.
        return rest >= kind(low)
    # One unsigned compare: a rest below wanted·10^k wraps around to a number of at least 10^k.
    return (rest - kind(low)) < kind(span)


def _run_in_integers(values: np.ndarray, query: str) -> np.ndarray:
    """Whether the decimal text of each non-negative integer (uint32 or uint64) contains ``query``."""
    length, wanted = len(query), int(query)
    hits = values == 0 if query == "0" else np.zeros(len(values), dtype=bool)
    top = int(values.max()) if len(values) else 0
    for k in range(len(str(top)) - length + 1):
        hit = _window_is(values, top, k, length, wanted)
        if query[0] == "0":
            # Leading zeros are not written: the number needs k + length digits for the run to be there.
            hit &= values >= values.dtype.type(10 ** (k + length - 1))
        hits |= hit
    return hits


def _run_in_padded(values: np.ndarray, width: int, query: str, kept_from: bool = False) -> np.ndarray:
    """Whether ``values`` (non-negative integers) written with ``width`` digits, leading zeros kept, contain ``query``.

    ``kept_from``: trailing zeros are dropped from the text (a float's fraction), so a run must end
    at or above the lowest non-zero digit. For up to :data:`_TABLE_WIDTH` digits and many places
    to try, the answer for every possible value is worked out once and looked up.
    """
    if width - len(query) >= _TABLE_FROM_RUNS and width <= _TABLE_WIDTH:
        return _padded_table(width, query, kept_from)[values]
    return _padded_runs(_unsigned(values, 10**width - 1), width, query, kept_from)


@functools.lru_cache(maxsize=32)
def _padded_table(width: int, query: str, kept_from: bool) -> np.ndarray:
    """The answer of :func:`_padded_runs` for every value of ``width`` digits."""
    return _padded_runs(np.arange(10**width, dtype=np.uint32), width, query, kept_from)


def _padded_runs(values: np.ndarray, width: int, query: str, kept_from: bool) -> np.ndarray:
    length, wanted = len(query), int(query)
    top = 10**width - 1
    kind = values.dtype.type
    hits = np.zeros(len(values), dtype=bool)
    for k in range(width - length + 1):
        hit = _window_is(values, top, k, length, wanted)
        if kept_from:
            # Something non-zero in the lowest k + 1 digits: the run ends at or above the last digit written.
            above = kind(10 ** (k + 1))
            hit &= values - values // above * above != 0
        hits |= hit
    return hits


# --------------------------------------------------------------------------- by type


def _only_valid(hits: np.ndarray, chunk: pa.Array) -> np.ndarray:
    """``hits`` with the null cells of ``chunk`` cleared."""
    if chunk.null_count:
        hits &= np.asarray(chunk.is_valid())
    return hits


def _numbers(chunk: pa.Array) -> np.ndarray:
    """The values of a batch of numbers as numpy, nulls as 0 (the caller clears null cells)."""
    return (pc.fill_null(chunk, 0) if chunk.null_count else chunk).to_numpy()


def _integer_hits(chunk: pa.Array, query: str) -> np.ndarray:
    if not len(chunk):
        return np.zeros(0, dtype=bool)
    low, high = (v.as_py() for v in pc.min_max(chunk).values())
    if low is None:
        return np.zeros(len(chunk), dtype=bool)
    values = _numbers(chunk)
    top = max(high, -low)
    if low < 0:
        # |x| in uint64 is exact for every int64, the smallest included (two's complement negation wraps to it).
        signed = values.astype(np.int64, copy=False)
        values = np.where(signed < 0, (-signed).view(np.uint64), signed.view(np.uint64))
    return _only_valid(_run_in_integers(_unsigned(values, top), query), chunk)


def _float_hits(chunk: pa.Array, query: str) -> np.ndarray | None:
    if not len(chunk):
        return np.zeros(0, dtype=bool)
    magnitude = np.abs(_numbers(chunk))
    finite = np.isfinite(magnitude)  # "nan", "inf" and "-inf" hold no digits
    if not finite.all():
        magnitude[~finite] = 0.0
    top = float(magnitude.max())
    if top >= _PLAIN_HIGH or bool(((magnitude < _PLAIN_LOW) & (magnitude != 0)).any()):
        return None  # some are written in scientific notation
    found = _decimal_digits(magnitude, top)
    if found is None:
        return None
    decimals, digits = found
    scale = digits.dtype.type(10**decimals)
    whole = digits // scale
    hits = _run_in_integers(whole, query)
    if decimals and len(query) <= decimals:
        hits |= _run_in_padded(digits - whole * scale, decimals, query, kept_from=True)
    hits &= finite
    return _only_valid(hits, chunk)


def _decimal_digits(magnitude: np.ndarray, top: float) -> tuple[int, np.ndarray] | None:
    """The fewest decimals ``d`` with each value ``round(x·10^d)/10^d`` in at most 15 significant digits, and those.

    The decimals of the first values are a guess that one pass over all of them confirms (or raises).
    """
    sample = magnitude[:64]
    guess = next((d for d in range(_MAX_DECIMALS + 1) if (np.round(sample * 10.0**d) / 10.0**d == sample).all()), 0)
    for decimals in range(guess, _MAX_DECIMALS + 1):
        scale = 10.0**decimals
        if top * scale >= 1e15:
            return None  # more than 15 significant digits: the shortest text may hold other digits
        scaled = np.round(magnitude * scale)
        if (scaled / scale == magnitude).all():
            return decimals, _unsigned(scaled, int(top * scale) + 1)
    return None


def _timestamp_hits(chunk: pa.Array, query: str) -> np.ndarray | None:
    if not len(chunk):
        return np.zeros(0, dtype=bool)
    per_second = _UNITS_PER_SECOND[chunk.type.unit]
    raw = chunk.cast(pa.int64())
    low, high = (v.as_py() for v in pc.min_max(raw).values())
    if low is None:
        return np.zeros(len(chunk), dtype=bool)
    if low < _FIRST_SECOND * per_second or high >= _END_SECOND * per_second:
        return None  # a year of other than four digits
    # Ticks since midnight of the first day: non-negative, so fields come from unsigned division.
    base = low // (per_second * _DAY) * (per_second * _DAY)
    span = high - base
    ticks = (pc.fill_null(raw, low) if raw.null_count else raw).to_numpy().view(np.uint64) - np.uint64(base % 2**64)
    ticks = _unsigned(ticks, span)
    kind = ticks.dtype.type
    seconds = ticks // kind(per_second)
    length = len(query)
    hits = np.zeros(len(chunk), dtype=bool)
    width = _FRACTION_DIGITS[chunk.type.unit]
    if length <= width:
        fraction = ticks - seconds * kind(per_second)
        if fraction.any():
            hits |= _run_in_padded(fraction, width, query)
        elif query.strip("0") == "":  # whole seconds: every fraction is written as zeros
            hits[:] = True
    if length > 4:
        return _only_valid(hits, chunk)
    days = seconds // kind(_DAY)
    year, month, day = _civil_dates(days.astype(np.uint32) + np.uint32(base // (per_second * _DAY) + _EPOCH_SHIFT))
    hits |= _run_in_padded(year, 4, query)
    if length <= 2:
        day_second = seconds - days * kind(_DAY)
        minutes = day_second // kind(60)
        hours = day_second // kind(3_600)
        for field in (
            month,
            day,
            hours,
            minutes - hours * kind(60),
            day_second - minutes * kind(60),
        ):
            hits |= _run_in_padded(field, 2, query)
    return _only_valid(hits, chunk)


def _civil_dates(shifted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day of days counted from 0000-03-01 (uint32), by the proleptic Gregorian calendar.

    The civil-from-days algorithm of H. Hinnant's "chrono-Compatible Low-Level Date Algorithms",
    in unsigned arithmetic (all the days here are after 1000-01-01).
    """
    era = shifted // np.uint32(146_097)
    day_of_era = shifted - era * np.uint32(146_097)
    year_of_era = (
        day_of_era - day_of_era // np.uint32(1_460) + day_of_era // np.uint32(36_524) - day_of_era // np.uint32(146_096)
    ) // np.uint32(365)
    day_of_year = day_of_era - (
        np.uint32(365) * year_of_era + year_of_era // np.uint32(4) - year_of_era // np.uint32(100)
    )
    month_from_march = (np.uint32(5) * day_of_year + np.uint32(2)) // np.uint32(153)
    day = day_of_year - (np.uint32(153) * month_from_march + np.uint32(2)) // np.uint32(5) + np.uint32(1)
    month = np.where(month_from_march < 10, month_from_march + np.uint32(3), month_from_march - np.uint32(9))
    year = year_of_era + era * np.uint32(400) + (month <= 2)
    return year.astype(np.uint32), month.astype(np.uint32), day
