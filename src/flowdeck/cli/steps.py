"""``flowdeck next``, ``back`` and ``rerun``: moving an existing run on from the command line."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flowdeck.cli.common import SET_HELP, acting_on, console, fail, shell_command
from flowdeck.cli.runs import InputValues, ProgressBars, drive, parse_pairs, print_result, print_status, report_failure
from flowdeck.errors import StepFailedError

RunId = Annotated[str, typer.Argument(help="The run id (see 'flowdeck runs').")]
User = Annotated[str, typer.Option("--user", "-u", help="Who acts on the run.")]


def _open(flow_id: str, user: str) -> Any:
    import flowdeck

    acting_on(flow_id, user)
    return flowdeck.open_run(flow_id, user=user)


def _check_not_failed(run_handle: Any, user: str, upload: list[str] | None, set_: list[str] | None) -> None:
    """Refuse (exit code 1, nothing set) to go on from a failed or cancelled step: say to re-run it first."""
    current = run_handle.current_step
    step = next((s for s in run_handle.status().steps if s.name == current), None)
    if step is None or str(step.state) not in ("failed", "cancelled"):
        return
    why = f"failed ({step.error})" if str(step.state) == "failed" else "was cancelled"
    given = [word for item in upload or [] for word in ("--upload", item)]
    given += [word for item in set_ or [] for word in ("--set", item)]
    flow_id = run_handle.flow_id
    fail(
        f"step {current!r} {why}{'; nothing was set' if given else ''}. Fix the cause, then run the step again: "
        + shell_command("flowdeck", "rerun", flow_id, "--user", user)
        + "\n  then go on with: "
        + shell_command("flowdeck", "next", flow_id, "--user", user, *given)
    )


def next_(
    flow_id: RunId,
    user: User,
    upload: Annotated[list[str] | None, typer.Option("--upload", help="TITLE=PATH for a DataSource.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help=SET_HELP)] = None,
    interactive: Annotated[bool, typer.Option(help="Prompt for missing inputs on a terminal.")] = True,
) -> None:
    """Continue a run: give the current step its inputs, then run the following steps to the end.

    The values for a step's page are checked together first: when one is refused, none is set.
    """
    run_handle = _open(flow_id, user)
    if run_handle.current_step is None:
        back = shell_command("flowdeck", "back", flow_id, "--user", user)
        fail(f"run {flow_id} is complete; reopen its last step with: {back}", 2)
    inputs = InputValues(parse_pairs(upload, "--upload"), parse_pairs(set_, "--set"), user)
    _check_not_failed(run_handle, user, upload, set_)
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
    console.print(f"continue with: {shell_command('flowdeck', 'next', flow_id, '--user', user)}", markup=False)
    print_status(run_handle.status())


def register(app: typer.Typer) -> None:
    """Add the commands that move a run on to ``app``."""
    app.command("next")(next_)
    app.command("back")(back)
    app.command("rerun")(rerun)
