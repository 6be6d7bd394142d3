"""Local hygiene: private files, one secret key for racing processes, user text shown literally."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from typer.testing import CliRunner

import flowdeck
import sample_flows
from flowdeck import Card, Dataset, Page, RichText, Section, StoreInterface, Table
from flowdeck.cli import app as cli_app
from flowdeck.config import configure
from flowdeck.page.text import render_page_text
from flowdeck.storage.deployment import reset_storage

HOSTILE = "[/] [bold]x[/bold] \x1b]0;owned\x07\x1b[2J\x9b31m"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_home_and_its_files_are_private_under_umask_022(tmp_path: Path) -> None:
    home = tmp_path / "parent" / "home"
    previous = os.umask(0o022)
    try:
        configure(home=str(home), database_url=None, blob_url=None, secret_key=None)
        run = flowdeck.start(sample_flows.three_steps, user="alice")
        StoreInterface(run.flow_id, user="alice").save_output(pd.DataFrame({"a": np.arange(50_000)}), "big")
    finally:
        os.umask(previous)
        reset_storage()
    files = [p for p in home.rglob("*") if p.is_file()]
    dirs = [home, tmp_path / "parent", *(p for p in home.rglob("*") if p.is_dir())]
    assert {p.name for p in files} >= {"secret.key", "flowdeck.db"}
    assert any(p.parent.parent.parent.name == "blobs" for p in files)  # a blob at blobs/ab/cd/<key>
    assert {str(p.relative_to(tmp_path)): oct(_mode(p)) for p in files if _mode(p) != 0o600} == {}
    assert {str(p.relative_to(tmp_path)): oct(_mode(p)) for p in dirs if _mode(p) != 0o700} == {}


def _create_key(home: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        results.put(configure(home=home, secret_key=None).secret_key)
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_creating_the_secret_key_at_once_agree_on_one(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    # Fresh interpreters: a forked child of a busy test process may inherit a lock another of its
    # threads held at the fork, and hang.
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(8), context.Queue()
    workers = [context.Process(target=_create_key, args=(home, barrier, results)) for _ in range(8)]
    for worker in workers:
        worker.start()
    keys = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(60)
    on_disk = (tmp_path / "home" / "secret.key").read_text().strip()
    assert keys == [on_disk] * 8
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == ["secret.key"]  # no temporary files left


def test_cli_lists_show_user_text_literally(embedded: Path, monkeypatch: Any) -> None:
    from flowdeck.cli.common import console

    # Wide enough that no cell is cut short. The console took its width when it was made (from
    # COLUMNS, by whichever test imported the CLI first), so it is set on the console itself.
    monkeypatch.setattr(console, "width", 400)
    flowdeck.add_user("alice")
    run = flowdeck.start(sample_flows.three_steps, user="alice")
    store = StoreInterface(run.flow_id, user="alice", step_name="Produce")
    store.save_asset(Dataset(pd.DataFrame({"x": [1]}), "churn", description=HOSTILE))
    store.update_progress(50, HOSTILE)
    flowdeck.add_connection("sales", "sqlite", "alice", database="x.db", username=HOSTILE)
    shown = "[/] [bold]x[/bold] \\x1b]0;owned\\x07\\x1b[2J\\x9b31m"
    for args in (
        ("status", run.flow_id, "--user", "alice"),
        ("assets", "list", "--user", "alice"),
        ("connections", "list", "--user", "alice"),
    ):
        result = CliRunner().invoke(cli_app, list(args))
        assert result.exit_code == 0, (args, result.output, result.exception)
        assert "\x1b" not in result.output and "\x9b" not in result.output
        assert "[/]" in result.output and "[bold]x[/bold]" in result.output
    listing = CliRunner().invoke(cli_app, ["assets", "list", "--user", "alice"])
    assert shown in listing.output


def test_errors_naming_user_text_print_literally(embedded: Path, monkeypatch, capsys) -> None:
    from flowdeck.cli.common import run_cli

    flowdeck.add_user("alice")
    monkeypatch.setattr("sys.argv", ["flowdeck", "assets", "show", "[/]\x1b[2J", "--user", "alice"])
    assert run_cli(cli_app) == 1
    err = capsys.readouterr().err
    assert "error: no asset '[/]\\x1b[2J' visible to user 'alice'" in err and "\x1b" not in err


def test_page_text_shows_escape_sequences_instead_of_sending_them() -> None:
    frame = pd.DataFrame({"name\x1b[2J": ["\x1b]0;owned\x07", "[/]"], "n": [1, 2]})
    page = Page(
        "Results \x1b[31m",
        [
            Section(
                "Main [/]",
                [Card("Card \x9b2J", [RichText(HOSTILE, title="Note"), Table(frame, title="T\x1b[1m")])],
            )
        ],
    )
    text = render_page_text(page)
    assert not any(ch in text for ch in ("\x1b", "\x07", "\x9b"))
    assert "Results \\x1b[31m" in text and "\\x1b]0;owned\\x07" in text and "Card \\x9b2J" in text
    assert "Main [/]" in text and "[/] [bold]x[/bold]" in text
