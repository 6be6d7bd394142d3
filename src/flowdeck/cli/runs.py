"""``flowdeck run``, ``status``, ``runs``, ``page``, ``cancel`` and ``fork``: running flows and looking at runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from flowdeck.cli.common import console, fail
from flowdeck.errors import MissingInputError, StepFailedError, ValidationError

_STATE_STYLE = {
    "complete": "green",
    "awaiting_input": "cyan",
    "failed": "bold red",
    "stale": "yellow",
    "cancelled": "magenta",
    "running": "blue",
    "acting": "blue",
    "pending": "dim",
}


def _pairs(items: list[str] | None, option: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items or []:
        title, sep, value = item.partition("=")
        if not sep or not title:
            fail(f"{option} takes TITLE=VALUE, got {item!r}", 2)
        pairs.append((title, value))
    return pairs


def print_status(status: Any) -> None:
    """Print a run's status as a table of steps."""
    table = Table(title=f"{status.flow_name}  run {status.flow_id}  ({status.state})", title_justify="left")
    table.add_column("step")
    table.add_column("state")
    table.add_column("progress", justify="right")
    table.add_column("message / error")
    for step in status.steps:
        style = _STATE_STYLE.get(str(step.state), "")
        detail = step.error if step.error else (step.message or "")
        table.add_row(step.name, f"[{style}]{step.state}[/]", f"{step.progress:.0f}%", detail)
    console.print(table)


class _ProgressBars:
    """A rich progress bar per step, fed by progress events of one run."""

    def __init__(self, flow_id: str) -> None:
        self.flow_id = flow_id
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[msg]}"),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _ProgressBars:
        from flowdeck.store.progress import subscribe

        self.progress.start()
        self._unsubscribe = subscribe(self._on_event)
        return self

    def _on_event(self, event: Any) -> None:
        if event.run_id != self.flow_id:
            return
        task = self.tasks.get(event.step_name)
        if task is None:
            task = self.progress.add_task(event.step_name, total=100, msg="")
            self.tasks[event.step_name] = task
        self.progress.update(task, completed=event.completion, msg=event.message)

    def __exit__(self, *exc: object) -> None:
        self._unsubscribe()
        self.progress.stop()


def _apply_inputs(
    run: Any, uploads: list[tuple[str, str]], sets: list[tuple[str, str]], used: set[tuple[str, str]]
) -> None:
    page = run.page()
    for title, path in uploads:
        if ("upload", title) in used or page.get_element_by_title(title) is None:
            continue
        file = Path(path).expanduser()
        if not file.is_file():
            fail(f"--upload {title}={path}: no such file")
        run.upload(title, file.name, file.read_bytes())
        used.add(("upload", title))
    for title, value in sets:
        if ("set", title) in used or page.get_element_by_title(title) is None:
            continue
        run.set_value(title, page.get_element_by_title(title).value_from_text(value))
        used.add(("set", title))


def _prompt_missing(run: Any, missing: list[str]) -> None:
    from flowdeck.elements import DataSource

    page = run.page()
    for title in missing:
        element = page.get_element_by_title(title)
        if isinstance(element, DataSource):
            path = Path(typer.prompt(f"{title} (file to upload, {'/'.join(element.options)})")).expanduser()
            run.upload(title, path.name, path.read_bytes())
        else:
            hint = getattr(element, "options", None)
            raw = typer.prompt(f"{title}" + (f" {hint}" if hint else ""))
            run.set_value(title, element.value_from_text(raw))


def run(
    flow_file: Annotated[str, typer.Argument(help="FLOW_FILE[:name]: a .py file and, if it holds several, the flow.")],
    user: Annotated[str, typer.Option("--user", "-u", help="Who runs the flow.")],
    upload: Annotated[list[str] | None, typer.Option("--upload", help="TITLE=PATH for a DataSource.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="TITLE=VALUE for an input (JSON or text).")] = None,
    interactive: Annotated[bool, typer.Option(help="Prompt for missing inputs on a terminal.")] = True,
) -> None:
    """Run a flow from a file: every step, with the inputs given, prompting for missing ones."""
    import flowdeck
    from flowdeck.flow.loader import load_flow_file

    try:
        flow, _ref = load_flow_file(flow_file)
    except ValidationError as exc:
        fail(str(exc))
    uploads, sets = _pairs(upload, "--upload"), _pairs(set_, "--set")
    used: set[tuple[str, str]] = set()
    run_handle: Any = None
    try:
        with _ProgressBars("") as bars:
            try:
                run_handle = flowdeck.start(flow, user=user)
            except StepFailedError as exc:
                run_handle = exc.run
                raise
            bars.flow_id = run_handle.flow_id
            console.print(f"started run [bold]{run_handle.flow_id}[/] of flow [bold]{flow.name}[/]")
            while run_handle.current_step is not None:
                step = run_handle.current_step
                _apply_inputs(run_handle, uploads, sets, used)
                try:
                    run_handle.next()
                except MissingInputError as exc:
                    if interactive and sys.stdin.isatty():
                        _prompt_missing(run_handle, exc.missing)
                        continue
                    print_status(run_handle.status())
                    fail(
                        f"{exc}. Give them with --upload TITLE=PATH / --set TITLE=VALUE, then continue "
                        f"the run {run_handle.flow_id} from Python with flowdeck.open_run()",
                        2,
                    )
                console.print(f"step [bold]{step}[/]: [green]complete[/]")
    except StepFailedError as exc:
        if run_handle is not None:
            print_status(run_handle.status())
        fail(str(exc))
    print_status(run_handle.status())


def status(
    flow_id: Annotated[str, typer.Argument(help="The run id.")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="Who asks.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a run's state and each step's state, progress and error."""
    import json

    from flowdeck.auth.users import resolve_principal
    from flowdeck.store import lifecycle
    from flowdeck.store import runs as run_service

    snapshot = run_service.flow_status(lifecycle.load(flow_id, resolve_principal(user)))
    if as_json:
        typer.echo(json.dumps(snapshot.to_dict(), indent=2))
    else:
        print_status(snapshot)


def runs(user: Annotated[str | None, typer.Option("--user", "-u", help="Whose runs.")] = None) -> None:
    """List the runs a user may see, newest first."""
    from flowdeck.auth.users import resolve_principal
    from flowdeck.store import runs as run_service

    table = Table("flow", "owner", "state", "current step", "created")
    table.add_column("run", no_wrap=True)
    for view in run_service.list_runs(resolve_principal(user)):
        run = view.run
        table.add_row(run.flow_name, run.owner, run.state, run.current_step or "", str(run.created_at)[:19], run.id)
    console.print(table)


def cancel(
    flow_id: Annotated[str, typer.Argument(help="The run id.")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="Who cancels.")] = None,
) -> None:
    """Cancel the step a run is running now (in any process); the run can then be re-run."""
    import flowdeck

    handle = flowdeck.open_run(flow_id, user=user)
    handle.cancel()
    print_status(handle.status())


def fork(
    flow_id: Annotated[str, typer.Argument(help="The run to start from.")],
    step: Annotated[str, typer.Argument(help="The step the new run opens at (its inputs editable).")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="Who owns the new run.")] = None,
) -> None:
    """Start a new run from a step of an existing one; the earlier steps' results are reused, not re-run."""
    import flowdeck

    handle = flowdeck.fork_run(flow_id, step, user=user)
    console.print(f"new run [bold]{handle.flow_id}[/] from run {flow_id}, opened at step [bold]{step}[/]")
    print_status(handle.status())


def page(
    flow_id: Annotated[str, typer.Argument(help="The run id.")],
    step: Annotated[str | None, typer.Argument(help="The step (default: the current step).")] = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Who asks.")] = None,
) -> None:
    """Print a step's page: its cards, element values and tables."""
    from flowdeck.auth.users import resolve_principal
    from flowdeck.page.text import render_page_text
    from flowdeck.store import pages as page_service
    from flowdeck.store import runs as run_service

    view = run_service.load_run(flow_id, resolve_principal(user))
    name = step or view.current_step or view.step_names[-1]
    typer.echo(render_page_text(page_service.get_page(view, name)))


def register(app: typer.Typer) -> None:
    """Add the run commands to ``app``."""
    app.command("run")(run)
    app.command("status")(status)
    app.command("runs")(runs)
    app.command("page")(page)
    app.command("cancel")(cancel)
    app.command("fork")(fork)
