"""Reading and writing DataFrames in external databases: real PostgreSQL, MariaDB and SQLite."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

import flowdeck.storage.external_sql as external_sql
from flowdeck.errors import AlreadyExistsError, ValidationError
from flowdeck.storage.connection_urls import ConnectionSpec, ConnectionType
from flowdeck.storage.external_sql import (
    EngineCache,
    quote_table_name,
    read_frame,
    scratch_prefix,
    server_version,
    write_frame,
)

PG_URL = os.environ.get("FLOWDECK_TEST_POSTGRES_URL")
MYSQL_URL = os.environ.get("FLOWDECK_TEST_MYSQL_URL")

DATABASES = [
    pytest.param(
        "postgresql",
        marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason="FLOWDECK_TEST_POSTGRES_URL not set")],
    ),
    pytest.param(
        "mysql",
        marks=[pytest.mark.mysql, pytest.mark.skipif(not MYSQL_URL, reason="FLOWDECK_TEST_MYSQL_URL not set")],
    ),
    "sqlite",
]
needs_postgres = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="FLOWDECK_TEST_POSTGRES_URL not set"),
]

_engines: dict[str, sa.Engine] = {}


def _engine_for(kind: str, tmp_dir: Path) -> sa.Engine:
    if kind not in _engines:
        url = {"postgresql": PG_URL, "mysql": MYSQL_URL}.get(kind) or f"sqlite:///{tmp_dir / 'external.db'}"
        _engines[kind] = sa.create_engine(url)
    return _engines[kind]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, sa.Engine]]:
    _engines.clear()
    tmp_dir = tmp_path_factory.mktemp("sqlite")
    yield {kind: _engine_for(kind, tmp_dir) for kind in ("sqlite",)}
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@pytest.fixture(params=DATABASES)
def engine(
    request: pytest.FixtureRequest, engines: dict[str, sa.Engine], tmp_path_factory: pytest.TempPathFactory
) -> sa.Engine:
    return _engine_for(request.param, tmp_path_factory.getbasetemp())


class Tables:
    """Unique table names for one test, dropped afterwards."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.names: list[str] = []

    def new(self, stem: str = "t") -> str:
        name = f"{stem}_{uuid.uuid4().hex[:10]}"
        self.names.append(name)
        return name

    def quoted(self, name: str) -> str:
        return quote_table_name(self.engine, name).quoted

    def drop_all(self) -> None:
        with self.engine.begin() as conn:
            for name in self.names:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self.quoted(name)}")


@pytest.fixture
def tables(engine: sa.Engine) -> Iterator[Tables]:
    t = Tables(engine)
    yield t
    t.drop_all()


def table_names(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def count(engine: sa.Engine, quoted: str) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {quoted}").scalar_one())


def sample_frame(rows: int = 5) -> pd.DataFrame:
    base = pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "small": np.arange(rows, dtype="int32"),
            "maybe_int": pd.array([None if i % 3 == 1 else i * 10 for i in range(rows)], dtype="Int64"),
            "price": [0.1 * i if i % 4 != 2 else np.nan for i in range(rows)],
            "name": pd.Series(
                [
                    None if i % 4 == 3 else ["", "plain", 'quo"te, comma', "new\nline", "ünï ✓"][i % 5]
                    for i in range(rows)
                ],
                dtype="str",
            ),
            "flag": [i % 2 == 0 for i in range(rows)],
            "maybe_flag": pd.array([None if i % 3 == 2 else i % 2 == 1 for i in range(rows)], dtype="boolean"),
            "at": pd.Series(
                [
                    pd.NaT if i % 4 == 1 else pd.Timestamp("2024-03-01 12:00:00.123456") + pd.Timedelta(days=i)
                    for i in range(rows)
                ],
                dtype="datetime64[us]",
            ),
            "at_tz": pd.Series(
                pd.date_range("2024-03-31 01:30", periods=rows, freq="h", tz="Europe/Paris"),
                dtype="datetime64[us, Europe/Paris]",
            ),
        }
    )
    return base


def as_stored(engine: sa.Engine, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` as the database can legitimately give it back."""
    out = df.copy()
    kind = engine.dialect.name
    for col in out.columns:
        dtype = out[col].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            # A database keeps the instant, not the zone: PostgreSQL returns it in UTC; MySQL and
            # SQLite have no zone-aware type, so the UTC wall time is stored.
            utc = out[col].dt.tz_convert("UTC")
            out[col] = utc if kind == "postgresql" else utc.dt.tz_localize(None)
            dtype = out[col].dtype
        if kind != "postgresql" and dtype in (np.int8, np.int16, np.int32):
            out[col] = out[col].astype("int64")  # these drivers return Python ints, which carry no width
        elif kind == "sqlite" and dtype is np.dtype(bool):
            out[col] = out[col].astype("int64")  # SQLite stores booleans as 0/1
        elif kind == "sqlite" and isinstance(dtype, pd.BooleanDtype):
            out[col] = out[col].astype("Int64")
        elif kind == "sqlite" and str(dtype).startswith("datetime64"):
            # SQLite has no timestamp type: SQLAlchemy stores ISO text.
            out[col] = pd.Series(
                [None if pd.isna(v) else v.strftime("%Y-%m-%d %H:%M:%S.%f") for v in out[col]], dtype="str"
            )
    return out


def read_back(engine: sa.Engine, name: str, order: str = "id") -> pd.DataFrame:
    prep = engine.dialect.identifier_preparer
    frame = read_frame(engine, f"SELECT * FROM {quote_table_name(engine, name).quoted} ORDER BY {prep.quote(order)}")
    assert isinstance(frame, pd.DataFrame)
    return frame


# --------------------------------------------------------------------------------------------
# Round trips


def test_dtypes_survive_a_round_trip(engine: sa.Engine, tables: Tables) -> None:
    df = sample_frame(12)
    name = tables.new()
    assert write_frame(engine, df, name) == 12
    assert_frame_equal(read_back(engine, name), as_stored(engine, df), check_exact=True)


def test_empty_frame_creates_an_empty_table(engine: sa.Engine, tables: Tables) -> None:
    name = tables.new()
    assert write_frame(engine, sample_frame(0), name) == 0
    assert count(engine, tables.quoted(name)) == 0
    assert [c["name"] for c in sa.inspect(engine).get_columns(name)] == list(sample_frame(0).columns)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            st.integers(-(2**63), 2**63 - 1),
            st.floats(allow_nan=False, allow_infinity=False, width=64),
            st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_arbitrary_values_round_trip(
    engine: sa.Engine, tables: Tables, rows: list[tuple[int, float, str, bool]]
) -> None:
    df = pd.DataFrame(rows, columns=["big", "x", "text", "ok"]).astype(
        {"big": "int64", "x": "float64", "text": "str", "ok": "bool"}
    )
    df.insert(0, "id", np.arange(len(df), dtype="int64"))
    name = tables.new()
    write_frame(engine, df, name)
    back = read_back(engine, name)
    if not len(df):
        assert len(back) == 0
        return
    assert_frame_equal(back, as_stored(engine, df), check_exact=True)


def test_index_is_written_only_when_asked(engine: sa.Engine, tables: Tables) -> None:
    df = pd.DataFrame({"v": [1.5, 2.5]}, index=pd.Index([10, 20], name="id"))
    without, with_index = tables.new(), tables.new()
    write_frame(engine, df, without)
    write_frame(engine, df, with_index, index=True)
    assert [c["name"] for c in sa.inspect(engine).get_columns(without)] == ["v"]
    assert_frame_equal(read_back(engine, with_index), df.reset_index())


# --------------------------------------------------------------------------------------------
# if_exists


def test_every_if_exists_mode(engine: sa.Engine, tables: Tables) -> None:
    name = tables.new()
    first = pd.DataFrame({"id": [1, 2], "v": ["a", "b"]}).astype({"v": "str"})
    assert write_frame(engine, first, name, if_exists="fail") == 2

    with pytest.raises(AlreadyExistsError, match=f"table '{name}' already exists; pass if_exists='overwrite'"):
        write_frame(engine, first, name, if_exists="fail")

    more = pd.DataFrame({"id": [3], "v": ["c"]}).astype({"v": "str"})
    assert write_frame(engine, more, name, if_exists="append") == 1
    assert_frame_equal(read_back(engine, name), pd.concat([first, more], ignore_index=True))

    # overwrite replaces rows and columns
    other = pd.DataFrame({"id": [7], "w": [0.5]})
    assert write_frame(engine, other, name, if_exists="overwrite") == 1
    assert_frame_equal(read_back(engine, name), other)

    # 'replace' is 'overwrite'
    assert write_frame(engine, first, name, if_exists="replace") == 2
    assert_frame_equal(read_back(engine, name), first)

    prefix = scratch_prefix(name)
    assert not [t for t in table_names(engine) if t.startswith(prefix)]


def test_append_creates_a_missing_table(engine: sa.Engine, tables: Tables) -> None:
    name = tables.new()
    df = pd.DataFrame({"id": [1, 2]})
    assert write_frame(engine, df, name, if_exists="append") == 2
    assert_frame_equal(read_back(engine, name), df)


def test_append_with_unknown_columns_names_them(engine: sa.Engine, tables: Tables) -> None:
    name = tables.new()
    write_frame(engine, pd.DataFrame({"id": [1]}), name)
    with pytest.raises(ValidationError, match=rf"table '{name}' has no column\(s\) \['extra'\].*\['id'\]"):
        write_frame(engine, pd.DataFrame({"id": [2], "extra": [1]}), name, if_exists="append")


@pytest.mark.parametrize("mode", ["upsert", "REPLACE", "", None])
def test_invalid_if_exists_lists_the_valid_modes(mode: object) -> None:
    engine = sa.create_engine("sqlite://")
    with pytest.raises(ValidationError, match=r"is not valid; use one of \['fail', 'overwrite', 'append'\]"):
        write_frame(engine, pd.DataFrame({"a": [1]}), "t", if_exists=mode)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Reading


def test_bound_parameters(engine: sa.Engine, tables: Tables) -> None:
    name = tables.new()
    df = pd.DataFrame({"id": [1, 2, 3, 4], "tag": ["a", "b", "a", "it's"]}).astype({"tag": "str"})
    write_frame(engine, df, name)
    q = tables.quoted(name)
    hostile = "a' OR '1'='1"
    got = read_frame(
        engine, f"SELECT id, tag FROM {q} WHERE tag = :tag AND id >= :lo ORDER BY id", params={"tag": "a", "lo": 2}
    )
    assert_frame_equal(got, df.iloc[[2]].reset_index(drop=True))
    assert len(read_frame(engine, f"SELECT id FROM {q} WHERE tag = :tag", params={"tag": hostile})) == 0
    got = read_frame(engine, f"SELECT id FROM {q} WHERE tag = :tag", params={"tag": "it's"})
    assert got["id"].tolist() == [4]
    with pytest.raises(ValidationError, match=r"params \['nope'\] have no :name placeholder"):
        read_frame(engine, f"SELECT id FROM {q} WHERE tag = :tag", params={"tag": "a", "nope": 1})


def test_chunked_reads(engine: sa.Engine, tables: Tables) -> None:
    name = tables.new()
    df = sample_frame(10)
    write_frame(engine, df, name)
    q = tables.quoted(name)
    chunks = list(read_frame(engine, f"SELECT * FROM {q} ORDER BY id", chunksize=4))
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert_frame_equal(
        pd.concat(chunks, ignore_index=True)[["id", "price", "name"]], as_stored(engine, df)[["id", "price", "name"]]
    )
    filtered = list(read_frame(engine, f"SELECT id FROM {q} WHERE id > :lo ORDER BY id", params={"lo": 6}, chunksize=2))
    assert [c["id"].tolist() for c in filtered] == [[7, 8], [9]]
    empty = list(read_frame(engine, f"SELECT id FROM {q} WHERE id < 0", chunksize=2))
    assert len(empty) == 1 and len(empty[0]) == 0 and list(empty[0].columns) == ["id"]
    with pytest.raises(ValidationError, match="chunksize must be a positive whole number"):
        read_frame(engine, f"SELECT id FROM {q}", chunksize=0)


@pytest.mark.parametrize("adbc", [True, False], ids=["adbc", "copy-csv"])
@pytest.mark.usefixtures("engines")
@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="FLOWDECK_TEST_POSTGRES_URL not set")
def test_postgres_bulk_reads_match_the_plain_reader(adbc: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine_for("postgresql", Path("."))
    t = Tables(engine)
    try:
        name = t.new()
        df = sample_frame(40)
        write_frame(engine, df, name)
        monkeypatch.setattr(external_sql, "_ADBC_ENABLED", adbc)
        query = f"SELECT *, 1.25::numeric AS num, 'x'::varchar AS vc FROM {t.quoted(name)} WHERE id >= :lo ORDER BY id"
        bulk = read_frame(engine, query, params={"lo": 3})
        plain = pd.concat(read_frame(engine, query, params={"lo": 3}, chunksize=1000), ignore_index=True)
        assert_frame_equal(bulk, plain, check_exact=True)
        assert_frame_equal(
            bulk[df.columns].reset_index(drop=True), as_stored(engine, df).iloc[3:].reset_index(drop=True)
        )
        assert bulk["num"].dtype == "float64"
        # Types the bulk readers do not parse fall back to the plain path.
        odd = read_frame(engine, "SELECT '{\"a\": 1}'::jsonb AS j, gen_random_uuid() AS u")
        assert odd["j"].iloc[0] == {"a": 1}
        # Errors come back from the server with its message.
        with pytest.raises(sa.exc.ProgrammingError, match="no_such_table"):
            read_frame(engine, "SELECT * FROM no_such_table")
    finally:
        t.drop_all()


# --------------------------------------------------------------------------------------------
# Table names


@pytest.mark.parametrize("stem", ["Sales 2024", "MixedCase", "with-dash", "dot'quote\"back`tick"])
def test_table_names_that_need_quoting(engine: sa.Engine, tables: Tables, stem: str) -> None:
    name = tables.new(stem)
    df = pd.DataFrame({"id": [1, 2], "Unit Price-€": [1.5, 2.5]})
    write_frame(engine, df, name)
    assert name in table_names(engine)
    assert_frame_equal(read_back(engine, name), df)
    write_frame(engine, df, name, if_exists="overwrite")
    write_frame(engine, df, name, if_exists="append")
    assert count(engine, tables.quoted(name)) == 4


def test_injection_through_a_table_name_is_quoted_harmlessly(engine: sa.Engine, tables: Tables) -> None:
    victim = tables.new("victim")
    write_frame(engine, pd.DataFrame({"id": [1, 2, 3]}), victim)
    hostile = f"{victim}; DROP TABLE {victim}; --"
    tables.names.append(hostile)
    write_frame(engine, pd.DataFrame({"id": [9]}), hostile)
    write_frame(engine, pd.DataFrame({"id": [9]}), hostile, if_exists="overwrite")
    names = table_names(engine)
    assert victim in names and hostile in names
    assert count(engine, tables.quoted(victim)) == 3


def test_invalid_table_names_are_refused() -> None:
    engine = sa.create_engine("postgresql+psycopg://")
    with pytest.raises(ValidationError, match="table name is empty"):
        quote_table_name(engine, "")
    with pytest.raises(ValidationError, match="contains a NUL character"):
        quote_table_name(engine, "bad\x00name")
    with pytest.raises(ValidationError, match=r"longer than postgresql allows \(64 > 63\)"):
        quote_table_name(engine, "x" * 64)
    with pytest.raises(ValidationError, match=r"longer than postgresql allows \(64 > 63\)"):
        quote_table_name(engine, "é" * 32)  # PostgreSQL counts bytes
    with pytest.raises(ValidationError, match=r"has more than one '\.'"):
        quote_table_name(engine, "a.b.c")
    with pytest.raises(ValidationError, match=r"schema of table '\.t' is empty"):
        quote_table_name(engine, ".t")
    name = quote_table_name(engine, "analytics.Sales 2024")
    assert (name.schema, name.name, name.quoted) == ("analytics", "Sales 2024", '"analytics"."Sales 2024"')


def test_bad_column_names_are_refused(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    df = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(ValidationError, match="column 'a' appears twice in the frame for table 't'"):
        write_frame(engine, df, "t")
    mixed = pd.DataFrame({"m": [1, "two"]})
    with pytest.raises(ValidationError, match=r"column 'm' of the frame for table 't'.*mixed or unsupported"):
        write_frame(engine, mixed, "t")
    assert "t" not in table_names(engine)


@pytest.mark.parametrize(
    "engine",
    [pytest.param("mysql", marks=[pytest.mark.mysql, pytest.mark.skipif(not MYSQL_URL, reason="no MySQL")])],
    indirect=True,
)
def test_mysql_refuses_column_names_differing_only_in_case(engine: sa.Engine) -> None:
    with pytest.raises(ValidationError, match="column 'A' appears twice"):
        write_frame(engine, pd.DataFrame({"a": [1], "A": [2]}), "never_created")


# --------------------------------------------------------------------------------------------
# Atomicity


def _failing_overwrite(
    engine: sa.Engine, rows: int
) -> tuple[pd.DataFrame, dict[str, object], type[BaseException], str]:
    """A frame whose last row the database rejects while loading it, with the expected error."""
    if engine.dialect.name == "sqlite":
        # SQLite accepts text in an INTEGER column; an integer beyond 64 bits is refused on binding.
        values = np.arange(rows, dtype="uint64")
        values[-1] = np.iinfo("uint64").max
        return pd.DataFrame({"id": np.arange(rows), "v": values}), {}, OverflowError, "too large"
    df = pd.DataFrame({"id": np.arange(rows), "v": [str(i) for i in range(rows - 1)] + ["oops"]})
    message = (
        "invalid input syntax for type integer" if engine.dialect.name == "postgresql" else "Incorrect integer value"
    )
    return df, {"dtype": {"v": sa.Integer()}}, sa.exc.DBAPIError, message


def test_failed_overwrite_leaves_the_old_table_intact(engine: sa.Engine, tables: Tables) -> None:
    name = tables.new()
    old = sample_frame(20)
    write_frame(engine, old, name)
    bad, kwargs, error, message = _failing_overwrite(engine, 500)
    with pytest.raises(error, match=message) as info:
        write_frame(engine, bad, name, if_exists="overwrite", chunksize=50, **kwargs)  # type: ignore[arg-type]
    assert any("nothing was written" in note for note in getattr(info.value, "__notes__", []))
    assert_frame_equal(read_back(engine, name), as_stored(engine, old), check_exact=True)
    assert not [t for t in table_names(engine) if t.startswith(scratch_prefix(name))]


def test_failed_create_leaves_no_table(engine: sa.Engine, tables: Tables) -> None:
    name = tables.new()
    bad, kwargs, error, message = _failing_overwrite(engine, 300)
    with pytest.raises(error, match=message):
        write_frame(engine, bad, name, chunksize=50, **kwargs)  # type: ignore[arg-type]
    names = table_names(engine)
    assert name not in names
    assert not [t for t in names if t.startswith(scratch_prefix(name))]


def test_failed_append_adds_no_rows(engine: sa.Engine, tables: Tables) -> None:
    name = tables.new()
    with engine.begin() as conn:
        sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True, autoincrement=False)).create(conn)
    write_frame(engine, pd.DataFrame({"id": [1, 2, 3]}), name, if_exists="append")
    # The last row repeats a key: the database refuses it after loading every row before it.
    bad = pd.DataFrame({"id": [*range(10, 400), 2]})
    with pytest.raises(sa.exc.IntegrityError):
        write_frame(engine, bad, name, if_exists="append", chunksize=50)
    assert count(engine, tables.quoted(name)) == 3


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="FLOWDECK_TEST_POSTGRES_URL not set")
def test_concurrent_reader_never_sees_an_empty_or_missing_table() -> None:
    import psycopg

    engine = sa.create_engine(PG_URL)  # type: ignore[arg-type]
    t = Tables(engine)
    name = t.new("swap")
    quoted = t.quoted(name)
    rows = 3000
    write_frame(engine, pd.DataFrame({"id": np.arange(rows), "v": np.zeros(rows)}), name)
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not stop.is_set():
                try:
                    seen.append(conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])  # type: ignore[index]
                except BaseException as exc:
                    errors.append(exc)
                    return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        deadline = time.monotonic() + 8
        overwrites = 0
        while overwrites < 12 and time.monotonic() < deadline:
            df = pd.DataFrame({"id": np.arange(rows), "v": np.full(rows, float(overwrites))})
            write_frame(engine, df, name, if_exists="overwrite")
            overwrites += 1
    finally:
        stop.set()
        thread.join(timeout=30)
        t.drop_all()
        engine.dispose()
    assert not errors, errors
    assert overwrites >= 3 and len(seen) > overwrites
    assert set(seen) == {rows}


# --------------------------------------------------------------------------------------------
# Engines and servers


def test_server_version(engine: sa.Engine) -> None:
    expected = {"postgresql": "PostgreSQL ", "mysql": ("MySQL ", "MariaDB "), "sqlite": "SQLite 3."}[
        engine.dialect.name
    ]
    version = server_version(engine)
    assert version.startswith(expected)
    assert any(ch.isdigit() for ch in version)


def test_engine_cache_reuses_engines_per_connection(tmp_path: Path) -> None:
    cache = EngineCache()
    a = ConnectionSpec(name="a", type=ConnectionType.sqlite, database=str(tmp_path / "a.db"))
    b = ConnectionSpec(name="b", type=ConnectionType.sqlite, database=str(tmp_path / "a.db"))
    first = cache.get_engine(a)
    assert cache.get_engine(a) is first
    assert cache.get_engine(b) is not first
    other_db = cache.get_engine(a, database=str(tmp_path / "other.db"))
    assert other_db is not first and len(cache) == 3
    assert server_version(first).startswith("SQLite")
    assert first.pool._pre_ping  # type: ignore[attr-defined]
    cache.dispose("a")
    assert len(cache) == 1
    assert cache.get_engine(a) is not first
    cache.dispose_all()
    assert len(cache) == 0


def test_write_frame_refuses_what_is_not_a_frame() -> None:
    with pytest.raises(ValidationError, match="takes a pandas DataFrame, got dict"):
        write_frame(sa.create_engine("sqlite://"), {"a": [1]}, "t")  # type: ignore[arg-type]
