"""Who may see and manage an asset: owner, shared user, shared group member, admin, stranger."""

from __future__ import annotations

import pytest

import flowdeck
import sample_flows
from flowdeck import AccessError, Asset, AssetType, Model, NotFoundError, StoreInterface
from flowdeck.store.assets import delete_asset, describe_asset, share_asset, unshare_asset

VIEWERS = ["alice", "bob", "carol", "root"]  # owner, shared user, shared group member, admin
STRANGER = "mallory"


def _store(user: str) -> StoreInterface:
    run = flowdeck.start(sample_flows.three_steps, user=user)
    return StoreInterface(run.flow_id, user=user)


@pytest.fixture
def world(deployment: str) -> dict:
    """alice owns a two-version model lineage shared with bob and the group of carol."""
    flowdeck.add_user("alice")
    flowdeck.add_user("bob")
    flowdeck.add_user("carol", groups=["analysts"])
    flowdeck.add_user("root", role="admin")
    flowdeck.add_user(STRANGER, groups=["outsiders"])
    stores = {user: _store(user) for user in [*VIEWERS, STRANGER]}
    owner = stores["alice"]
    v1 = owner.save_asset(Model({"weights": [1]}, "churn", name="prod"))
    v2 = owner.save_asset(Model({"weights": [2]}, "churn", name="prod"))
    private = owner.save_asset(Asset("secret", "private", "other"))
    flowdeck.share_asset(v1, owner="alice", users=["bob"], groups=["analysts"])
    return {"stores": stores, "v1": v1, "v2": v2, "private": private}


def _not_found_message(asset_id: str, user: str) -> str:
    return f"no asset '{asset_id}' visible to user '{user}'; check the id, or ask its owner to share it"


@pytest.mark.parametrize("user", VIEWERS)
def test_everyone_it_is_shared_with_sees_every_version_with_each_getter(world: dict, user: str) -> None:
    store = world["stores"][user]
    v1, v2 = world["v1"], world["v2"]
    assert store.get_asset_by_id(v1).object == {"weights": [1]}
    assert store.get_asset_by_id(v2).object == {"weights": [2]}
    assert [a.id for a in store.get_assets(label="churn")] == [v2, v1]
    assert [a.id for a in store.get_assets(type=AssetType.MODEL, name="prod")] == [v2, v1]
    assert [a.id for a in store.get_assets(asset_id=v1)] == [v1]
    assert store.get_asset(label="churn").id == v2
    assert store.get_asset(type="model", name="prod").id == v2
    assert store.get_asset(asset_id=v1).id == v1
    assert store.get_model("churn").id == v2
    assert store.get_model("churn", name="prod").owner == "alice"


@pytest.mark.parametrize("user", ["bob", "carol"])
def test_shared_users_do_not_see_what_is_not_shared(world: dict, user: str) -> None:
    store = world["stores"][user]
    private = world["private"]
    assert {a.id for a in store.get_assets()} == {world["v1"], world["v2"]}
    assert store.get_asset(label="private") is None
    with pytest.raises(NotFoundError) as err:
        store.get_asset_by_id(private)
    assert str(err.value) == _not_found_message(private, user)


def test_the_owner_and_admins_see_everything(world: dict) -> None:
    everything = {world["v1"], world["v2"], world["private"]}
    assert {a.id for a in world["stores"]["alice"].get_assets()} == everything
    assert {a.id for a in world["stores"]["root"].get_assets()} == everything
    assert world["stores"]["root"].get_asset_by_id(world["private"]).object == "secret"


def test_a_stranger_sees_nothing_and_learns_nothing(world: dict) -> None:
    store = world["stores"][STRANGER]
    assert store.get_assets() == []
    assert store.get_assets(label="churn") == []
    assert store.get_assets(asset_id=world["v1"]) == []
    assert store.get_asset(label="churn") is None
    assert store.get_asset(asset_id=world["v1"]) is None
    assert store.get_model("churn") is None
    for asset_id in (world["v1"], world["private"]):
        with pytest.raises(NotFoundError) as hidden:
            store.get_asset_by_id(asset_id)
        with pytest.raises(NotFoundError) as missing:
            store.get_asset_by_id("0" * 32)
        # Exactly what an id that does not exist gets, apart from the id itself.
        assert str(hidden.value) == _not_found_message(asset_id, STRANGER)
        assert str(missing.value) == _not_found_message("0" * 32, STRANGER)
    for action in (
        lambda: store.save_asset(Model({}, "churn", name="prod"), asset_id=world["v1"]),
        lambda: delete_asset(world["v1"], user=STRANGER),
        lambda: share_asset(world["v1"], owner=STRANGER, users=[STRANGER]),
        lambda: describe_asset(world["v1"], user=STRANGER),
    ):
        with pytest.raises(NotFoundError, match=f"no asset '{world['v1']}' visible to user '{STRANGER}'"):
            action()


def test_saving_the_same_label_makes_the_users_own_lineage(world: dict) -> None:
    bob = world["stores"]["bob"]
    mine = bob.save_asset(Model({"weights": [9]}, "churn", name="prod"))
    assert bob.get_asset_by_id(mine).version == 1
    assert bob.get_asset_by_id(mine).owner == "bob"
    assert bob.get_asset(label="churn").id == mine
    assert [a.id for a in world["stores"]["alice"].get_assets(label="churn")] == [world["v2"], world["v1"]]
    # overwrite=True touches the caller's own lineage, never the one shared with them.
    assert bob.save_asset(Model({"weights": [10]}, "churn", name="prod"), overwrite=True) == mine
    assert world["stores"]["alice"].get_asset_by_id(world["v2"]).object == {"weights": [2]}


@pytest.mark.parametrize("user", ["bob", "carol"])
def test_shared_users_may_not_manage(world: dict, user: str) -> None:
    store = world["stores"][user]
    v1 = world["v1"]
    expected = rf"user '{user}' may not {{}} asset '{v1}' \('churn', version 1\): only its owner 'alice' or an admin"
    with pytest.raises(AccessError, match=expected.format("overwrite")):
        store.save_asset(Model({"weights": [0]}, "churn", name="prod"), asset_id=v1)
    with pytest.raises(AccessError, match=expected.format("delete")):
        delete_asset(v1, user=user)
    with pytest.raises(AccessError, match=expected.format("share")):
        share_asset(v1, owner=user, users=[STRANGER])
    with pytest.raises(AccessError, match=expected.format("unshare")):
        unshare_asset(v1, owner=user, users=["bob"])
    assert world["stores"]["alice"].get_asset_by_id(v1).object == {"weights": [1]}
    assert describe_asset(v1, user=user).shares is None


@pytest.mark.parametrize("manager", ["alice", "root"])
def test_owner_and_admin_may_overwrite_share_and_delete(world: dict, manager: str) -> None:
    store = world["stores"][manager]
    v1, v2 = world["v1"], world["v2"]
    assert store.save_asset(Model({"weights": [11]}, "churn", name="prod"), asset_id=v1) == v1
    written = world["stores"]["bob"].get_asset_by_id(v1)
    assert (written.object, written.owner, written.version) == ({"weights": [11]}, "alice", 1)
    share_asset(v1, owner=manager, users=[STRANGER])
    assert {a.id for a in world["stores"][STRANGER].get_assets()} == {v1, v2}
    assert ("user", STRANGER) in describe_asset(v1, user=manager).shares
    unshare_asset(v2, owner=manager, users=[STRANGER])
    assert world["stores"][STRANGER].get_assets() == []
    assert delete_asset(v2, user=manager) == 1
    assert [a.id for a in world["stores"]["carol"].get_assets(label="churn")] == [v1]


def test_group_membership_decides_at_read_time(world: dict) -> None:
    v1 = world["v1"]
    assert world["stores"][STRANGER].get_assets(asset_id=v1) == []
    flowdeck.update_user(STRANGER, groups=["analysts"])
    joined = StoreInterface(world["stores"][STRANGER].flow_id, user=STRANGER)
    assert [a.id for a in joined.get_assets(label="churn")] == [world["v2"], v1]
    flowdeck.update_user("carol", groups=[])
    left = StoreInterface(world["stores"]["carol"].flow_id, user="carol")
    assert left.get_assets() == []


def test_sharing_needs_names(world: dict) -> None:
    with pytest.raises(flowdeck.ValidationError, match="a user name must be a non-empty string"):
        share_asset(world["v1"], owner="alice", users=[""])
    share_asset(world["v1"], owner="alice", users="dave")
    dave = _store("dave")
    assert {a.id for a in dave.get_assets()} == {world["v1"], world["v2"]}
