"""A SingletonApp's trigger is set up by registering the app: configured for it, stored with it, or neither."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowdeck
import headless_flows
from conftest import DATABASES_ONLY
from flowdeck import Asset, StoreInterface
from flowdeck.errors import AccessError, NotFoundError, ValidationError
from flowdeck.flow.loader import load_flow_file
from flowdeck.flow.registry import get_registered_flow, list_registered_flows, origins_of
from flowdeck.triggers import AssetTrigger, check_triggers, get_trigger, list_triggers, pause_trigger
from test_cli import flowdeck_cli

APP = "Scores report"
TRIGGER = "scores arrived"

APP_SOURCE = '''
"""A singleton app at module level of a flow file, started when a "scores" asset appears."""

from flowdeck import SingletonApp, Step, StepType, StoreInterface
from flowdeck.triggers import AssetTrigger


class Note(Step):
    """Saves a note so a test can see that it ran."""

    def run(self, flow_metadata):
        StoreInterface(**flow_metadata).save_output("ran", "note")


scores_arrived = AssetTrigger(label="scores", name="scores arrived"){configure}
report = SingletonApp("Scores report", "Runs when scores arrive", trigger=scores_arrived)
report.chain([Note(title="Note", type=StepType.RESULTS)])
'''


def write_app(tmp_path: Path, configure: str = "") -> Path:
    """A flow file defining the app (``configure``: text appended to the trigger's construction)."""
    path = tmp_path / "scores_app.py"
    path.write_text(APP_SOURCE.format(configure=configure))
    return path


def app_runs(user: str) -> list[str]:
    return [s.flow_id for s in flowdeck.list_runs(user=user) if s.flow_name == APP]


def save_asset(user: str, label: str) -> str:
    """Save an asset as ``user`` (from a run of a registered flow, which stops awaiting input)."""
    flowdeck.register_flow(headless_flows.sales_totals)
    store = StoreInterface(flowdeck.run_headless("Sales totals", user), user=user)
    return store.save_asset(Asset({"x": 1}, label=label, type="dataset"))


@DATABASES_ONLY
def test_registering_a_singleton_app_stores_its_trigger_configured_for_the_app(deployment, tmp_path) -> None:
    app, _ = load_flow_file(str(write_app(tmp_path)))
    info = flowdeck.register_flow(app, registered_by="alice")
    assert info.name == APP and get_registered_flow(APP).registered_by == "alice"
    [listed] = list_triggers("alice")
    stored, ticks = get_trigger(TRIGGER, "alice")
    assert listed == stored and ticks == []
    assert (stored.name, stored.kind, stored.flow_name, stored.owner, stored.active) == (
        TRIGGER,
        "asset",
        APP,
        "alice",
        True,
    )
    assert stored.spec["label"] == "scores"
    assert (app.trigger.app_id, app.trigger.user_id) == (APP, "alice")
    assert list_triggers("bob") == []  # alice's trigger, not bob's


@DATABASES_ONLY
def test_the_registered_trigger_fires_and_starts_a_run_of_the_app(deployment, tmp_path) -> None:
    flowdeck.register_flow(str(write_app(tmp_path)), registered_by="alice")
    assert check_triggers() == []  # the first look records what is there
    asset_id = save_asset("alice", "scores")
    fired = check_triggers()
    assert [(t.firing_key, t.outcome) for t in fired] == [(f"asset:{asset_id}", "fired")]
    assert app_runs("alice") == [fired[0].run_id]
    assert origins_of(app_runs("alice")) == {fired[0].run_id: f"trigger:{TRIGGER}"}
    [run] = [s for s in flowdeck.list_runs(user="alice") if s.flow_name == APP]
    assert run.state == "complete"
    assert check_triggers() == []


@DATABASES_ONLY
def test_registering_again_keeps_a_paused_trigger_paused_with_its_state(deployment, tmp_path) -> None:
    path = write_app(tmp_path)
    flowdeck.register_flow(str(path), registered_by="alice")
    check_triggers()  # records what is there: the state to keep
    pause_trigger(TRIGGER, "alice")
    before, _ = get_trigger(TRIGGER, "alice")
    assert not before.active and "seen" in before.state

    app, _ = load_flow_file(str(path))
    flowdeck.register_flow(app, registered_by="alice")  # the same object, configured by the first registration
    flowdeck.register_flow(str(path))  # nobody named (as `flowdeck serve` does): the trigger keeps its owner
    after, _ = get_trigger(TRIGGER, "alice")
    assert not after.active and after.state == before.state and after.owner == "alice"
    save_asset("alice", "scores")
    assert check_triggers() == [] and app_runs("alice") == []  # paused: not looked at


@DATABASES_ONLY
def test_a_trigger_configured_for_another_flow_is_refused_and_nothing_is_stored(deployment, tmp_path) -> None:
    path = write_app(tmp_path, configure='.configure(app_id="Other flow", user_id="alice")')
    with pytest.raises(ValidationError, match=r"configured for flow 'Other flow'") as refused:
        flowdeck.register_flow(str(path), registered_by="alice")
    assert f"SingletonApp {APP!r}" in str(refused.value)
    assert APP not in [f.name for f in list_registered_flows()]
    assert list_triggers("alice") == []
    app, _ = load_flow_file(str(path))
    with pytest.raises(ValidationError, match=r"'Scores report'.*'Other flow'"):
        flowdeck.register_flow(app, registered_by="alice")
    assert APP not in [f.name for f in list_registered_flows()] and list_triggers("alice") == []


@DATABASES_ONLY
def test_a_trigger_configured_for_the_app_with_its_own_user_acts_for_that_user(deployment, tmp_path) -> None:
    path = write_app(tmp_path, configure=f'.configure(app_id="{APP}", user_id="carol")')
    flowdeck.register_flow(str(path), registered_by="alice")
    stored, _ = get_trigger(TRIGGER, "carol")
    assert (stored.flow_name, stored.owner, stored.active) == (APP, "carol", True)
    assert list_triggers("alice") == []


@DATABASES_ONLY
def test_a_trigger_refused_after_the_flow_was_written_leaves_no_registration(deployment, tmp_path) -> None:
    # alice stored a trigger of that name for the app herself; bob may not replace it
    AssetTrigger(label="other", name=TRIGGER).configure(app_id=APP, user_id="alice").start()
    with pytest.raises(AccessError, match=f"trigger {TRIGGER!r} belongs to another user"):
        flowdeck.register_flow(str(write_app(tmp_path)), registered_by="bob")
    with pytest.raises(NotFoundError, match=f"no registered flow {APP!r}"):
        get_registered_flow(APP)
    stored, _ = get_trigger(TRIGGER, "alice")
    assert (stored.owner, stored.spec["label"]) == ("alice", "other")


@DATABASES_ONLY
def test_another_flows_trigger_of_that_name_is_not_taken_over(deployment, tmp_path) -> None:
    AssetTrigger(label="other", name=TRIGGER).configure(app_id="One step", user_id="alice").start()
    with pytest.raises(ValidationError, match=f"named {TRIGGER!r} is stored for flow 'One step'.*{APP!r}"):
        flowdeck.register_flow(str(write_app(tmp_path)), registered_by="alice")
    assert APP not in [f.name for f in list_registered_flows()]
    assert get_trigger(TRIGGER, "alice")[0].flow_name == "One step"


def test_with_several_users_and_nobody_named_the_error_says_how_to_name_one(embedded, tmp_path) -> None:
    flowdeck.add_user("alice")
    flowdeck.add_user("bob")
    with pytest.raises(ValidationError, match=r"several users.*registered_by=USER.*--user USER"):
        flowdeck.register_flow(str(write_app(tmp_path)))
    assert list_registered_flows() == [] and list_triggers("alice") == [] and list_triggers("bob") == []


def test_flows_add_of_a_file_stores_the_app_trigger(embedded, home, tmp_path) -> None:
    path = write_app(tmp_path)
    added = flowdeck_cli(home, "flows", "add", str(path), "--user", "alice")
    assert added.returncode == 0, added.stdout + added.stderr
    assert f"registered flow {APP} → {path.resolve()}:report" in added.stdout
    stored, _ = get_trigger(TRIGGER, "alice")
    assert (stored.flow_name, stored.owner, stored.active) == (APP, "alice", True)
    assert get_registered_flow(APP).registered_by == "alice"
