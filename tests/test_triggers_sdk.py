"""Triggers written as in the SDK (virtualitics-sdk 1.62): constructors, runtime set-up, inspection,
awaitable start/stop, and the S3 and query options the SDK names, against real services."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import sqlalchemy as sa

import flowdeck
import headless_flows
from flowdeck import Asset, StoreInterface
from flowdeck.errors import NotFoundError, ValidationError
from flowdeck.triggers import (
    AssetTrigger,
    AssetTriggerMode,
    CompositeTrigger,
    PostgresTrigger,
    PostgresTriggerMode,
    S3Trigger,
    S3TriggerMode,
    ScheduleTrigger,
    check_triggers,
    get_trigger,
)
from s3_server import DUMMY_AWS_ENV

FLOW = "One step"


@pytest.fixture(autouse=True)
def _registered(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("deployment" if "deployment" in request.fixturenames else "embedded")
    flowdeck.register_flow(headless_flows.one_step)
    flowdeck.register_flow(headless_flows.sales_totals)


def runs_of(user: str) -> list[str]:
    return [s.flow_id for s in flowdeck.list_runs(user=user) if s.flow_name == FLOW]


def save_asset(user: str, label: str, name: str = "scores", type: str = "dataset") -> str:
    store = StoreInterface(flowdeck.run_headless("Sales totals", user), user=user)
    return store.save_asset(Asset({"x": 1}, label=label, type=type, name=name))


def test_the_sdk_examples_construct_with_the_sdk_names_and_order() -> None:
    exists = S3Trigger(
        name="data_ready",
        bucket="my-bucket",
        key="data/output.csv",
        mode=S3TriggerMode.EXISTS,
        callback=headless_flows.note_firing,
    )
    assert (exists.name, exists.bucket, exists.key, exists.mode) == (
        "data_ready",
        "my-bucket",
        "data/output.csv",
        S3TriggerMode.EXISTS,
    )
    positional = S3Trigger("landing", "raw-bucket", None, "in/")
    assert (positional.name, positional.bucket, positional.prefix) == ("landing", "raw-bucket", "in/")
    created = AssetTrigger("watch scores", AssetTriggerMode.CREATED, None, "customer_data", "dataset")
    assert (created.name, created.mode, created.asset_name, created.asset_type) == (
        "watch scores",
        AssetTriggerMode.CREATED,
        "customer_data",
        "dataset",
    )
    mine = AssetTrigger(name="user_asset_monitor", mode=AssetTriggerMode.CHANGED, user_id="alice")
    assert mine.user_id == "alice" and mine.label is None and mine.asset_type is None
    query = sa.select(sa.func.count()).select_from(sa.table("orders"))
    count = PostgresTrigger("orders", query, PostgresTriggerMode.COUNT, "warehouse", False, 3, query_timeout=5)
    assert (count.connection_id, count.count_threshold, count.query_timeout) == ("warehouse", 3, 5)
    both = CompositeTrigger(name="pipeline", triggers=[exists, positional])
    assert both.logic == "AND"  # the SDK's default
    assert CompositeTrigger("any", [exists, positional], "OR", poll_frequency=15).interval_seconds == 15.0
    assert exists.max_retries == 3 and exists.should_retry


def test_unknown_keywords_and_misplaced_arguments_name_the_fix() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'file_patern'; did you mean 'file_pattern'\?"):
        S3Trigger(name="x", bucket="b", file_patern=r"\.csv$")
    with pytest.raises(TypeError, match="Accepted keywords: name, mode, asset_id"):
        AssetTrigger(name="x", labels="scores")
    query = sa.select(sa.literal(1))
    with pytest.raises(ValidationError, match=r"name comes first, as in the SDK: PostgresTrigger\(name, \.\.\.\)"):
        PostgresTrigger(query)
    with pytest.raises(ValidationError, match="count_threshold=3 and threshold=4 name the same setting"):
        PostgresTrigger("x", query, count_threshold=3, threshold=4)
    with pytest.raises(ValidationError, match="use_store_uri=True queries the deployment's database"):
        PostgresTrigger("x", query, connection_id="warehouse", use_store_uri=True)
    with pytest.raises(ValidationError, match=r"key= \(one object\) or prefix= \(the objects under it\), not both"):
        S3Trigger("x", "b", key="a.csv", prefix="in/")
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        S3Trigger("x", "b", file_pattern="(unclosed")
    with pytest.raises(ValidationError, match="must be a MIME type like 'text/csv'"):
        S3Trigger("x", "b", content_type="csv")
    with pytest.raises(ValidationError, match="CompositeTrigger takes a non-empty list of triggers"):
        CompositeTrigger("x", [])
    with pytest.raises(ValidationError, match="trigger_metadata is stored as JSON"):
        AssetTrigger("x", trigger_metadata={"when": object()})


def test_runtime_parameters_at_construction_inspection_and_awaitable_start_stop(deployment) -> None:
    trigger = AssetTrigger(
        name="scores watch",
        label="scores",
        app_id=FLOW,
        user_id="alice",
        trigger_metadata={"team": "risk"},
        max_retries=0,
    )
    assert trigger.is_configured() and trigger.id == "scores watch"
    assert not trigger.should_retry
    assert trigger.get_state() is None and not trigger.is_running
    with pytest.raises(ValidationError, match="never started"):
        AssetTrigger(label="x").get_metrics()
    described = trigger.to_dict()
    assert described["app_id"] == FLOW and described["trigger_metadata"] == {"team": "risk"}
    assert described["spec"]["label"] == "scores" and described["kind"] == "asset"

    async def start_and_stop() -> str:
        name = await trigger.start()
        assert trigger.is_running
        await trigger.stop()
        return name

    assert asyncio.run(start_and_stop()) == "scores watch"
    assert not trigger.is_running
    assert trigger.start() == "scores watch" and trigger.is_running  # without await, as before
    assert get_trigger("scores watch", "alice")[0].spec["trigger_metadata"] == {"team": "risk"}
    check_triggers()
    assert trigger.get_state() == {"seen": {}}
    save_asset("alice", "scores")
    [tick] = check_triggers()
    assert tick.outcome == "fired" and runs_of("alice") == [tick.run_id]
    metrics = trigger.get_metrics()
    assert (metrics["firings"], metrics["outcomes"], metrics["active"]) == (1, {"fired": 1}, True)
    assert "1 matching asset version" in metrics["last_reason"]
    # an empty state makes the next check a first look: it records what is there and fires nothing
    trigger.set_state({})
    assert trigger.get_state() == {}
    assert check_triggers() == [] and len(trigger.get_state()["seen"]) == 1
    with pytest.raises(ValidationError, match="state must be a dict"):
        trigger.set_state(["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="no trigger 'scores watch' visible to user 'bob'"):
        AssetTrigger(name="scores watch", label="scores", user_id="bob").set_state({})


def test_asset_filters_by_id_name_and_type_and_none_watches_every_visible_asset(deployment) -> None:
    every = AssetTrigger("every", user_id="alice", app_id=FLOW).start()
    named = AssetTrigger("named", asset_name="model-a", asset_type="model", user_id="alice", app_id=FLOW).start()
    check_triggers()
    save_asset("alice", "x", name="model-a", type="dataset")  # the name matches, not the type
    first = save_asset("alice", "y", name="model-a", type="model")
    save_asset("bob", "z")  # alice may not see it
    fired = check_triggers()
    assert len(fired) == 3  # "every" fired for both of alice's assets, "named" for the model only
    assert len(get_trigger(named, "alice")[1]) == 1 and len(get_trigger(every, "alice")[1]) == 2
    one = AssetTrigger("one version", AssetTriggerMode.CHANGED, asset_id=first, user_id="alice", app_id=FLOW)
    one.start()
    check_triggers()
    store = StoreInterface(flowdeck.run_headless("Sales totals", "alice"), user="alice")
    store.save_asset(Asset({"x": 2}, label="y", type="model", name="model-a"), asset_id=first)
    ticks = [t for t in check_triggers() if t.firing_key.startswith(f"asset:{first}@")]
    assert len(ticks) == 1 and len(get_trigger("one version", "alice")[1]) == 1


def test_a_query_over_its_timeout_is_stopped_on_the_deployment_database(deployment) -> None:
    flowdeck.add_user("root", role="admin")
    if deployment == "mariadb":
        slow = "SELECT SLEEP(10)"
    elif deployment.startswith("postgres"):
        slow = "SELECT pg_sleep(10)"
    else:  # SQLite: a recursive count the progress handler interrupts
        slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    PostgresTrigger("slow", slow, use_store_uri=True, query_timeout=0.5, app_id=FLOW, user_id="root").start()
    started = time.monotonic()
    assert check_triggers() == []
    assert time.monotonic() - started < 8
    info, _ = get_trigger("slow", "root")
    assert "stopped after its query_timeout of 0.5 s" in info.last_reason
    # the connection it used is back in the pool without the limit: a later query runs in full
    quick = PostgresTrigger("quick", "SELECT 1", use_store_uri=True, app_id=FLOW, user_id="root")
    quick.start()
    check_triggers(["quick"])
    assert get_trigger("quick", "root")[0].last_reason == "count 1 (threshold 1)"


@pytest.fixture
def s3_bucket(embedded, s3_server, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str, dict[str, str]]:
    """A client, a fresh bucket on the S3 server, and the keywords that point a trigger of FLOW at it."""
    for key, value in DUMMY_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    bucket = s3_server.create_bucket()
    flowdeck.add_connection(
        "landing zone", "s3", owner="alice", username="testing", password="testing",
        endpoint_url=s3_server.endpoint_url, region="us-east-1",
    )  # fmt: skip
    where = {"bucket": bucket, "connection": "landing zone", "app_id": FLOW, "user_id": "alice"}
    return s3_server.client(), bucket, where


def test_s3_key_file_pattern_and_content_type(s3_bucket) -> None:
    client, bucket, where = s3_bucket
    S3Trigger("ready", key="out/done.flag", mode=S3TriggerMode.EXISTS, **where).start()
    S3Trigger("csv files", prefix="in/", file_pattern=r"^sales-\d{4}\.csv$", **where).start()
    S3Trigger("json only", prefix="in/", content_type="application/json", **where).start()
    assert check_triggers() == []
    client.put_object(Bucket=bucket, Key="out/done.flag.tmp", Body=b"")  # not the key
    client.put_object(Bucket=bucket, Key="in/sales-2026.csv", Body=b"a\n1\n", ContentType="text/csv")
    client.put_object(Bucket=bucket, Key="in/sales-draft.csv", Body=b"a\n1\n", ContentType="text/csv")
    client.put_object(Bucket=bucket, Key="in/nested/sales-2025.csv", Body=b"a\n", ContentType="text/csv")
    client.put_object(Bucket=bucket, Key="in/m.json", Body=b"{}", ContentType="application/json; charset=utf-8")
    keys = sorted(t.firing_key for t in check_triggers())
    assert keys == ["s3:in/m.json", "s3:in/nested/sales-2025.csv", "s3:in/sales-2026.csv"]
    client.put_object(Bucket=bucket, Key="out/done.flag", Body=b"")
    assert [t.firing_key for t in check_triggers()] == ["s3-exists:1"]


def test_a_file_pattern_that_backtracks_without_end_fails_the_check_quickly(s3_bucket) -> None:
    client, bucket, where = s3_bucket
    S3Trigger("evil", file_pattern=r"^(a|aa)+$", **where).start()
    client.put_object(Bucket=bucket, Key="a" * 60 + "!", Body=b"")
    started = time.monotonic()
    assert check_triggers() == []
    assert time.monotonic() - started < 5
    assert "simplify the pattern" in get_trigger("evil", "alice")[0].last_reason


def test_a_schedule_and_a_composite_keep_their_metadata_through_storage(embedded) -> None:
    ScheduleTrigger(cron="0 6 * * *", name="mornings", trigger_metadata={"k": 1}, app_id=FLOW, user_id="alice").start()
    parts = [AssetTrigger(label="a"), AssetTrigger(label="b")]
    CompositeTrigger("both", parts, trigger_metadata={"k": 2}, app_id=FLOW, user_id="alice").start()
    assert get_trigger("mornings", "alice")[0].spec["trigger_metadata"] == {"k": 1}
    stored = get_trigger("both", "alice")[0].spec
    assert stored["operator"] == "and" and stored["trigger_metadata"] == {"k": 2}
