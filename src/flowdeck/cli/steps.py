"""``flowdeck next``, ``back``, ``rerun`` and ``click``: moving an existing run on, and acting on its page."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from flowdeck.cli.common import console, fail
from flowdeck.cli.runs import InputValues, ProgressBars, drive, parse_pairs, print_result, print_status, report_failure
from flowdeck.errors import CallbackError, StepFailedError

RunId = Annotated[str, typer.Argument(help="The run id (see 'flowdeck runs').")]
User = Annotated[str, typer.Option("--user", "-u", help="Who acts on the run.")]


def _open(flow_id: str, user: str) -> Any:
    import flowdeck

    return flowdeck.open_run(flow_id, user=user)


def next_(
    flow_id: RunId,
    user: User,
    upload: Annotated[list[str] | None, typer.Option("--upload", help="TITLE=PATH for a DataSource.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="TITLE=VALUE for an input (JSON or text).")] = None,
    interactive: Annotated[bool, typer.Option(help="Prompt for missing inputs on a terminal.")] = True,
) -> None:
    """Continue a run: give the current step its inputs, then run the following steps to the end."""
    run_handle = _open(flow_id, user)
    if run_handle.current_step is None:
        fail(f"run {flow_id} is complete; 'flowdeck back {flow_id} --user {user}' reopens its last step", 2)
    inputs = InputValues(parse_pairs(upload, "--upload"), parse_pairs(set_, "--set"))
    with ProgressBars(run_handle.flow_id) as bars:
        drive(run_handle, inputs, user, interactive, bars)
    print_result(run_handle)


def back(flow_id: RunId, user: User) -> None:
    """Reopen the step before the current one (later steps become stale and run again on next)."""
    run_handle = _open(flow_id, user)
    run_handle.back()
    console.print(f"reopened step [bold]{run_handle.current_step}[/]")
    print_status(run_handle.status())


def rerun(flow_id: RunId, user: User) -> None:
    """Run the current step again (after fixing what made it fail)."""
    run_handle = _open(flow_id, user)
    with ProgressBars(run_handle.flow_id):
        try:
            run_handle.rerun()
        except StepFailedError as exc:
            report_failure(run_handle, exc, user)
    console.print(f"step [bold]{run_handle.current_step}[/] ran again")
    console.print(f"continue with: flowdeck next {flow_id} --user {user}", markup=False)
    print_status(run_handle.status())


def click(
    flow_id: RunId,
    title: Annotated[str, typer.Argument(help="The title (or id) of the Button, RichText or figure to click.")],
    user: User,
    data: Annotated[str | None, typer.Option("--data", help="Input data for the callback, as a JSON object.")] = None,
    show_traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the traceback of a failing callback.")
    ] = False,
) -> None:
    """Click an element of the current step's page: runs its on_click and shows what it answered."""
    from flowdeck.flow.callbacks import CallbackEvent

    input_data = None
    if data is not None:
        try:
            input_data = json.loads(data)
        except ValueError as exc:
            fail(f"--data must be a JSON object: {exc}", 2)
    run_handle = _open(flow_id, user)
    try:
        outcome = run_handle.fire(CallbackEvent("click", title, None, input_data))
    except CallbackError as exc:
        if show_traceback and exc.traceback:
            console.print(exc.traceback, markup=False, highlight=False)
        raise
    if outcome.kind == "standard":
        console.print(outcome.message or "", markup=False)
    elif outcome.kind == "drilldown":
        card = outcome.drilldown_card()
        console.print(f"[bold]{card.title if card else ''}[/]")
        for element in card.elements if card else []:
            text = getattr(element, "content", None)
            console.print(
                text if isinstance(text, str) else f"({type(element).__name__} {element.title!r})", markup=False
            )
    elif outcome.kind == "download":
        download = outcome.download or {}
        console.print(f"download: asset {download.get('asset_id')} as {download.get('filename')}", markup=False)
    else:
        titles = ", ".join(card.get("title", "") for card in outcome.changed_cards) or "none"
        console.print(f"page updated; changed cards: {titles}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the commands that move a run on, and act on its page, to ``app``."""
    app.command("next")(next_)
    app.command("back")(back)
    app.command("rerun")(rerun)
    app.command("click")(click)
