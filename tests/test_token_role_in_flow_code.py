"""An admin's API token without the ``admin`` scope: the flow code it sets off acts as a plain user.

The routes already treat such a token's bearer as a plain user. The steps and callbacks it starts
make their own ``StoreInterface`` from the user's name, which used to look the stored role up again:
the flow's code then saw every user's assets. Now the action is carried out for the principal the
server authenticated, on the server's step workers, in a headless run and in callbacks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pandas as pd
import pytest

import flowdeck
from fixtures.celery_support import flowdeck_worker, needs_redis
from fixtures.server_support import add_people, http_login, serving, wait_idle
from flowdeck import Dataset, StoreInterface
from flowdeck.auth.users import Principal, acting_as, lowered_to, resolve_principal
from flowdeck.flow.callbacks import fire
from flowdeck.flow.executors import CeleryExecutor
from flowdeck.flow.registry import resolve_spec
from flowdeck.server import create_app

PEEK = f"{Path(__file__).resolve().parent / 'fixtures' / 'role_flows.py'}:peek"


@pytest.fixture
def server(embedded: Path) -> Iterator[str]:
    add_people()
    app = create_app([PEEK])
    with serving(app) as url:
        yield url
    app.state.flowdeck.executor.shutdown(wait=True)


@pytest.fixture
def clients(server: str) -> Iterator[dict[str, httpx.Client]]:
    """root's session, and bearer clients of root's tokens with and without the admin scope."""
    root = http_login(server, "root")
    made = {"session": root}
    for name, scopes in (("plain", ["read", "write"]), ("admin", ["read", "write", "admin"])):
        minted = root.post("/api/tokens", json={"scopes": scopes})
        assert minted.status_code == 201, minted.text
        token = minted.json()["token"]
        made[name] = httpx.Client(base_url=server, timeout=60, headers={"Authorization": f"Bearer {token}"})
    yield made
    for client in made.values():
        client.close()


@pytest.fixture
def assets(server: str) -> None:
    """alice's private asset and root's own (the people exist once the server does)."""
    frame = pd.DataFrame({"a": [1]})
    for owner, label in (("alice", "alice-private"), ("root", "root-own")):
        run = flowdeck.start(flowdeck.Flow(name="Saver", description="").chain([flowdeck.Step(title="s")]), user=owner)
        StoreInterface(run.flow_id, user=owner).save_asset(Dataset(frame, label))


def _wait_idle(client: httpx.Client, run_id: str) -> None:
    assert wait_idle(client, run_id)["state"] == "awaiting_input"


def _shown(client: httpx.Client, run_id: str) -> dict[str, Any]:
    page: dict[str, Any] = client.get(f"/api/runs/{run_id}/steps/{quote('Peek')}/page").json()["page"]
    return {e["title"]: e for s in page["sections"] for c in s["content"] for e in c["content"]}


def _seen(client: httpx.Client, run_id: str) -> tuple[str, str]:
    """What the step showed, and what its callback answers now."""
    elements = _shown(client, run_id)
    fired = client.post(f"/api/runs/{run_id}/callbacks", json={"kind": "click", "target": elements["Look"]["id"]})
    assert fired.status_code == 200, fired.text
    return elements["Seen"]["content"], fired.json()["message"]


@pytest.mark.usefixtures("assets")
@pytest.mark.parametrize(("who", "expected"), [("plain", "root-own"), ("admin", "alice-private, root-own")])
def test_steps_and_callbacks_act_with_the_role_the_token_grants(
    clients: dict[str, httpx.Client], who: str, expected: str
) -> None:
    client = clients[who]
    started = client.post("/api/runs", json={"flow": "Peek"})
    assert started.status_code == 201, started.text
    run_id = started.json()["flow_id"]
    _wait_idle(client, run_id)
    assert _seen(client, run_id) == (expected, expected)
    # Running the step again (a later action on the same run) keeps to the token's role.
    assert client.post(f"/api/runs/{run_id}/rerun").status_code == 202
    _wait_idle(client, run_id)
    assert _seen(client, run_id) == (expected, expected)


@pytest.mark.usefixtures("assets")
def test_a_run_the_admin_scoped_token_started_still_acts_as_admin_for_the_session(
    clients: dict[str, httpx.Client],
) -> None:
    started = clients["plain"].post("/api/runs", json={"flow": "Peek"})
    run_id = started.json()["flow_id"]
    _wait_idle(clients["plain"], run_id)
    # The role goes with each action, not with the run: root's own session acts as the admin it is.
    assert clients["session"].post(f"/api/runs/{run_id}/rerun").status_code == 202
    _wait_idle(clients["session"], run_id)
    assert _seen(clients["session"], run_id) == ("alice-private, root-own", "alice-private, root-own")


@pytest.mark.usefixtures("assets")
def test_a_headless_run_started_with_the_token_acts_as_a_plain_user(clients: dict[str, httpx.Client]) -> None:
    flowdeck.register_flow(PEEK)
    for who, expected in (("plain", "root-own"), ("admin", "alice-private, root-own")):
        started = clients[who].post("/api/flows/Peek/runs", json={})
        assert started.status_code == 201, started.text
        run_id = started.json()["flow_id"]
        assert started.json()["state"] == "complete"  # nothing to wait for: driven to its end
        assert _shown(clients[who], run_id)["Seen"]["content"] == expected


def test_a_principal_is_only_ever_lowered_and_only_for_its_own_name(embedded: Path) -> None:
    add_people()
    root, alice = resolve_principal("root"), resolve_principal("alice")
    assert lowered_to(root, "user") == Principal("root", "user", root.groups)
    assert lowered_to(alice, "admin") is alice  # a role is never raised
    assert lowered_to(root, None) is root and lowered_to(root, "superuser") is root
    run = flowdeck.start(flowdeck.Flow(name="F", description="").chain([flowdeck.Step(title="s")]), user="root")
    with acting_as(lowered_to(root, "user")):
        assert not resolve_principal("root").is_admin
        assert resolve_principal("alice") == alice  # another name is looked up as stored
        assert not StoreInterface(run.flow_id, user="root")._principal.is_admin
    assert resolve_principal("root").is_admin  # outside the block, as stored


@needs_redis
@pytest.mark.backends("postgres")  # a worker takes seconds to start: once, on the multi-process backend
def test_a_celery_worker_carries_steps_and_callbacks_out_with_the_lowered_role(deployment: str, tmp_path: Path) -> None:
    add_people()
    frame = pd.DataFrame({"a": [1]})
    for owner, label in (("alice", "alice-private"), ("root", "root-own")):
        run = flowdeck.start(flowdeck.Flow(name="Saver", description="").chain([flowdeck.Step(title="s")]), user=owner)
        StoreInterface(run.flow_id, user=owner).save_asset(Dataset(frame, label))
    flow, _ = resolve_spec(PEEK)
    run = flowdeck.start(flow, user="root")  # the first step runs here, as the admin
    assert StoreInterface(run.flow_id, user="root").get_element("Peek", "Seen").content == "alice-private, root-own"
    plain = lowered_to(resolve_principal("root"), "user")  # what an admin's token without the admin scope gets
    with flowdeck_worker(tmp_path / "worker.log", prefix="flowdeck-role") as queue:
        try:
            executor = CeleryExecutor(queue=queue)
            executor.submit(run.flow_id, plain, "rerun")
            assert executor.wait(run.flow_id, timeout=60)
            seen = StoreInterface(run.flow_id, user="root").get_element("Peek", "Seen").content
            answer = fire(run.flow_id, plain, {"kind": "click", "target": "Look"}, queue=queue).message
        except Exception:
            print((tmp_path / "worker.log").read_text())
            raise
    assert (seen, answer) == ("root-own", "root-own")


def test_an_async_hook_finished_on_a_loop_of_its_own_acts_for_the_same_principal(embedded: Path) -> None:
    # A coroutine settled where an event loop already runs is finished on another thread: it must
    # still act for the principal of the action, not look the name up as stored.
    from flowdeck.store import lifecycle

    add_people()
    plain = lowered_to(resolve_principal("root"), "user")

    async def who() -> Principal:
        return resolve_principal("root")

    async def step_code() -> Principal:
        with acting_as(plain):
            return lifecycle.settle(who())

    assert asyncio.run(step_code()) == plain
