"""``flowdeck assets list|show|export|delete|share``."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

import flowdeck
import sample_flows
from flowdeck import AccessError, Asset, Dataset, NotFoundError, StoreInterface
from flowdeck.cli import app
from flowdeck.cli.common import console, run_cli


@pytest.fixture
def wide_console() -> object:
    width = console._width  # None: the console follows the terminal (COLUMNS) again afterwards
    console.width = 200
    yield console
    console._width = width


@pytest.fixture
def saved(deployment: str, wide_console: object) -> dict:
    flowdeck.add_user("alice")
    flowdeck.add_user("bob", groups=["analysts"])
    flowdeck.add_user("carol")
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice")
    frame = pd.DataFrame({"id": [1, 2, 3], "city": ["Oslo", "Lima", "Pune"], "score": [0.5, 0.25, 1.0]})
    v1 = store.save_asset(Dataset(frame.head(2), "customers", description="first cut"))
    v2 = store.save_asset(Dataset(frame, "customers", description="all rows", source="crm"))
    raw = store.save_asset(Asset(b"\x00raw bytes\xff", "blob", "other"))
    config = store.save_asset(Asset({"threshold": 0.5}, "config", "other", name="prod"))
    return {"frame": frame, "v1": v1, "v2": v2, "raw": raw, "config": config, "flow_id": run.flow_id}


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _fails(*args: str) -> BaseException:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code != 0
    return result.exception


def test_list_filters_and_shows_only_what_the_user_may_see(saved: dict) -> None:
    everything = _invoke("assets", "list", "--user", "alice")
    assert all(saved[k] in everything for k in ("v1", "v2", "raw", "config"))
    assert "4 asset versions" in everything
    assert everything.index(saved["config"]) < everything.index(saved["v2"]) < everything.index(saved["v1"])
    only = _invoke("assets", "list", "-u", "alice", "--label", "customers", "--type", "DATASET")
    assert saved["v1"] in only and saved["v2"] in only and saved["raw"] not in only
    named = _invoke("assets", "list", "--as", "alice", "--type", "other", "--name", "prod")
    assert saved["config"] in named and "1 asset version\n" in named
    assert "0 asset versions" in _invoke("assets", "list", "-u", "bob")


def test_show_prints_metadata_versions_and_shares(saved: dict) -> None:
    out = _invoke("assets", "show", saved["v2"], "-u", "alice")
    for text in (
        "customers",
        "dataset",
        "all rows",
        "alice",
        saved["flow_id"],
        "Produce",
        "pandas.DataFrame",
        "arrow",
        '"source": "crm"',
        "lineage",
        saved["v1"],
        "first cut",
        "shared with",
        "nobody",
    ):
        assert text in out, text
    assert re.search(rf"2 \* +│ {saved['v2']}", out)


def test_export_writes_frames_by_suffix_and_other_objects_as_stored(saved: dict, tmp_path: Path) -> None:
    _invoke("assets", "export", saved["v2"], str(tmp_path / "c.parquet"), "-u", "alice")
    assert_frame_equal(pd.read_parquet(tmp_path / "c.parquet"), saved["frame"])
    out = _invoke("assets", "export", saved["v2"], str(tmp_path / "c.csv"), "-u", "alice")
    assert "(csv)" in out
    assert_frame_equal(pd.read_csv(tmp_path / "c.csv"), saved["frame"], check_dtype=False)
    _invoke("assets", "export", saved["raw"], str(tmp_path / "raw.bin"), "-u", "alice")
    assert (tmp_path / "raw.bin").read_bytes() == b"\x00raw bytes\xff"
    _invoke("assets", "export", saved["v2"], str(tmp_path / "c.arrow"), "-u", "alice")
    assert_frame_equal(pd.read_feather(tmp_path / "c.arrow"), saved["frame"])
    _invoke("assets", "export", saved["config"], str(tmp_path / "config.json"), "-u", "alice")
    assert (tmp_path / "config.json").read_text() == '{"threshold":0.5}'


def test_share_lets_users_and_groups_see_it(saved: dict) -> None:
    out = _invoke("assets", "share", saved["v1"], "--user", "carol", "--group", "analysts", "--as", "alice")
    assert f"shared asset {saved['v1']} with user carol, group analysts" in out
    for user in ("bob", "carol"):
        listed = _invoke("assets", "list", "-u", user)
        assert saved["v1"] in listed and saved["v2"] in listed and saved["raw"] not in listed
    assert "group analysts, user carol" in _invoke("assets", "show", saved["v1"], "-u", "alice")
    assert "shared with" not in _invoke("assets", "show", saved["v1"], "-u", "bob")
    error = _fails("assets", "share", saved["v1"], "--user", "bob", "--as", "carol")
    assert isinstance(error, AccessError)
    assert "only its owner 'alice' or an admin may" in str(error)
    _invoke("assets", "share", saved["v1"], "--user", "carol", "--as", "alice", "--revoke")
    assert saved["v1"] not in _invoke("assets", "list", "-u", "carol")


def test_share_needs_someone_to_share_with(saved: dict) -> None:
    result = CliRunner().invoke(app, ["assets", "share", saved["v1"], "--as", "alice"])
    assert result.exit_code == 2
    assert "say whom to share with" in result.output


def test_delete_removes_a_version_or_the_lineage(saved: dict) -> None:
    error = _fails("assets", "delete", saved["v2"], "-u", "bob")
    assert isinstance(error, NotFoundError)
    assert str(error).startswith(f"no asset '{saved['v2']}' visible to user 'bob'")
    assert "deleted 1 version of asset" in _invoke("assets", "delete", saved["v2"], "-u", "alice")
    listed = _invoke("assets", "list", "-u", "alice", "--label", "customers")
    assert saved["v1"] in listed and saved["v2"] not in listed
    _invoke("assets", "delete", saved["v1"], "-u", "alice", "--all-versions")
    assert "0 asset versions" in _invoke("assets", "list", "-u", "alice", "--label", "customers")


def test_errors_are_one_line_and_exit_code_one(saved: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    captured = io.StringIO()
    monkeypatch.setattr(sys, "argv", ["flowdeck", "assets", "show", "0" * 32, "-u", "carol"])
    from flowdeck.cli import common

    monkeypatch.setattr(common.err_console, "_file", captured)  # undone to None: back to sys.stderr
    assert run_cli(app) == 1
    assert f"error: no asset '{'0' * 32}' visible to user 'carol'" in captured.getvalue()


def test_export_of_a_model_writes_its_skops_file(saved: dict, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    store = StoreInterface(saved["flow_id"], user="alice")
    features = np.array([[0.0], [1.0], [2.0], [3.0]])
    model_id = store.save_asset(flowdeck.Model(LogisticRegression().fit(features, [0, 0, 1, 1]), "tiny"))
    out = _invoke("assets", "export", model_id, str(tmp_path / "tiny.skops"), "-u", "alice")
    assert "(skops)" in out
    import skops.io as sio

    data = (tmp_path / "tiny.skops").read_bytes()
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert loaded.predict([[3.0]]).tolist() == [1]
