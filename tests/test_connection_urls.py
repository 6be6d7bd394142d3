"""Connection types, ConnectionSpec and the SQLAlchemy URLs built from a connection's fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowdeck.errors import ValidationError
from flowdeck.storage.connection_urls import (
    ConnectionSpec,
    ConnectionType,
    build_url,
    engine_kwargs,
    str_2_connection_type,
)

SECRET = "s3cr#t/p@ss:w?rd"


def spec(type_: str, **fields: object) -> ConnectionSpec:
    return ConnectionSpec(name="warehouse", type=ConnectionType(type_), secret=SECRET, **fields)  # type: ignore[arg-type]


def test_connection_type_members_are_their_lower_case_names() -> None:
    assert ConnectionType.postgresql == "postgresql"
    assert [t.value for t in ConnectionType] == [
        "postgresql",
        "mysql",
        "mariadb",
        "mssql",
        "mssql_pyodbc",
        "mssql_pymysql",
        "sqlite",
        "databricks",
        "snowflake",
        "s3",
        "api",
        "other",
        "spark",
    ]
    assert isinstance(ConnectionType.mysql, str)


@given(st.sampled_from(list(ConnectionType)), st.lists(st.booleans(), min_size=20, max_size=20))
def test_str_2_connection_type_ignores_case(member: ConnectionType, upper: list[bool]) -> None:
    mixed = "".join(c.upper() if u else c for c, u in zip(member.value, upper, strict=False))
    assert str_2_connection_type([mixed, member.value]) == [member, member]


def test_str_2_connection_type_rejects_unknown_names_listing_valid_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown connection type 'oracle'.*'postgresql'.*'other'"):
        str_2_connection_type(["postgresql", "oracle"])
    with pytest.raises(ValueError, match="list of names"):
        str_2_connection_type("postgresql")  # type: ignore[arg-type]


def test_repr_never_shows_the_secret() -> None:
    s = spec("postgresql", host="db", params={"sslmode": "require"})
    for text in (repr(s), str(s), f"{s}", repr([s])):
        assert SECRET not in text
        assert "secret='***'" in text
    assert "secret=None" in repr(ConnectionSpec(name="x", type=ConnectionType.sqlite, database="/tmp/x.db"))


def test_postgresql_url() -> None:
    url = build_url(spec("postgresql", host="db.example", port=5433, database="sales", username="etl"))
    assert url.render_as_string(hide_password=True) == "postgresql+psycopg://etl:***@db.example:5433/sales"
    assert url.password == SECRET
    # The rendered form escapes the secret rather than breaking the URL apart.
    assert url.render_as_string(hide_password=False).count("@") == 1


def test_mysql_and_mariadb_urls_use_pymysql_with_utf8mb4() -> None:
    for kind in ("mysql", "mariadb"):
        url = build_url(spec(kind, host="h", database="d", username="u"))
        assert url.render_as_string(hide_password=True) == "mysql+pymysql://u:***@h/d?charset=utf8mb4"
        assert url.password == SECRET


def test_sqlite_url_is_the_database_path(tmp_path: object) -> None:
    url = build_url(ConnectionSpec(name="local", type=ConnectionType.sqlite, database="/data/my db.sqlite"))
    assert url.render_as_string() == "sqlite:////data/my db.sqlite"
    with pytest.raises(ValidationError, match="connection 'local' of type sqlite needs a database file path"):
        build_url(ConnectionSpec(name="local", type=ConnectionType.sqlite))


def test_mssql_url_names_an_odbc_driver() -> None:
    url = build_url(spec("mssql", host="h", port=1433, database="d", username="sa"))
    assert url.drivername == "mssql+pyodbc"
    assert url.query["driver"] == "ODBC Driver 18 for SQL Server"
    custom = build_url(spec("mssql", host="h", params={"driver": "FreeTDS"}))
    assert custom.query["driver"] == "FreeTDS"


def test_databricks_url_and_http_path_override() -> None:
    s = spec(
        "databricks",
        host="adb-1.azuredatabricks.net",
        params={"http_path": "/sql/1.0/warehouses/stored", "catalog": "main", "schema": "sales"},
    )
    url = build_url(s)
    assert url.render_as_string(hide_password=True) == (
        "databricks://token:***@adb-1.azuredatabricks.net"
        "?catalog=main&http_path=%2Fsql%2F1.0%2Fwarehouses%2Fstored&schema=sales"
    )
    assert url.username == "token"
    assert url.password == SECRET
    assert build_url(s, http_path="/sql/1.0/warehouses/other").query["http_path"] == "/sql/1.0/warehouses/other"
    assert build_url(s, http_path=None).query["http_path"] == "/sql/1.0/warehouses/stored"
    with pytest.raises(ValidationError, match="'warehouse' of type databricks needs an http_path"):
        build_url(spec("databricks", host="h"))


def test_snowflake_url() -> None:
    s = spec(
        "snowflake",
        username="loader",
        database="ANALYTICS",
        params={"account": "xy12345.eu-west-1", "warehouse": "WH", "schema": "PUBLIC", "role": "ETL"},
    )
    url = build_url(s)
    assert url.render_as_string(hide_password=True) == (
        "snowflake://loader:***@xy12345.eu-west-1/ANALYTICS/PUBLIC?role=ETL&warehouse=WH"
    )
    assert url.password == SECRET


def test_overrides_replace_fields_for_one_use() -> None:
    s = spec("postgresql", host="db", database="sales", username="etl")
    assert build_url(s, database="other", port=6432).render_as_string() == "postgresql+psycopg://etl:***@db:6432/other"
    assert s.database == "sales"


@pytest.mark.parametrize("kind", ["s3", "api", "other"])
def test_non_sql_types_are_refused(kind: str) -> None:
    with pytest.raises(ValidationError, match=f"connection 'warehouse' of type {kind} is not a SQL database"):
        build_url(spec(kind, host="h"))


def test_engine_kwargs() -> None:
    # libpq never reads the server account's ~/.pgpass unless an admin names a passfile.
    assert engine_kwargs(spec("postgresql", host="h")) == {
        "pool_pre_ping": True,
        "connect_args": {"passfile": "/dev/null/no-passfile"},
    }
    assert "connect_args" not in engine_kwargs(spec("postgresql", host="h", params={"passfile": "/srv/pgpass"}))
    assert engine_kwargs(spec("mysql", host="h"))["pool_recycle"] == 3600
    assert engine_kwargs(spec("postgresql", host="h", params={"pool_size": "3"}))["pool_size"] == 3
    assert "pool_size" not in build_url(spec("postgresql", host="h", params={"pool_size": 3})).query


def test_bad_port_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="connection 'warehouse': port must be a whole number"):
        spec("postgresql", host="h", port="fifty")


@pytest.mark.parametrize("kind", list(ConnectionType))
def test_every_connection_type_has_a_param_allow_list(kind: ConnectionType) -> None:
    from flowdeck.storage.connection_urls import check_params

    assert check_params("c", kind, {}).plain == {}
    if kind is not ConnectionType.other:  # the one free-form type
        with pytest.raises(ValidationError, match="local_infile_or_anything"):
            check_params("c", kind, {"local_infile_or_anything": 1})
