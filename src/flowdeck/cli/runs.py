"""``flowdeck run``, ``status``, ``runs``, ``page``, ``share``, ``unshare``, ``cancel`` and ``fork``: running flows and
looking at runs."""

from __future__ import annotations

import difflib
import sys
import traceback as traceback_module
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table
from rich.text import Text

from flowdeck.cli.common import SET_HELP, acting_on, cells, console, err_console, esc, fail, parse_value, shell_command
from flowdeck.cli.sharing import (
    Acting,
    SharedGroups,
    SharedUsers,
    UnsharedGroups,
    UnsharedUsers,
    print_shared,
    require_whom,
)
from flowdeck.errors import (
    FlowdeckError,
    MissingInputError,
    NotFoundError,
    StepFailedError,
    StepStateError,
    ValidationError,
)

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


def parse_pairs(items: list[str] | None, option: str) -> list[tuple[str, str]]:
    """Split ``TITLE=VALUE`` options into pairs (a usage error when one has no ``=``)."""
    pairs = []
    for item in items or []:
        title, sep, value = item.partition("=")
        if not sep or not title:
            fail(f"{option} takes TITLE=VALUE, got {item!r}", 2)
        pairs.append((title, value))
    return pairs


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be uploaded (``is a directory``, ``no such file``), or None for a file."""
    if path.is_file():
        return None
    return "is a directory" if path.is_dir() else "no such file"


def _next_command(flow_id: str, user: str, upload: str, value: str) -> str:
    """``flowdeck next ID --user U --upload <upload> --set <value>``, its values quoted for a shell."""
    return shell_command("flowdeck", "next", flow_id, "--user", user, "--upload", upload, "--set", value)


def print_status(status: Any) -> None:
    """Print a run's status as a table of steps."""
    table = Table(title=cells(f"{status.flow_name}  run {status.flow_id}  ({status.state})")[0], title_justify="left")
    table.add_column("step")
    table.add_column("state")
    table.add_column("progress", justify="right")
    table.add_column("message / error")
    versions = {step.code_version for step in status.steps if getattr(step, "code_version", None)}
    if len(versions) > 1:  # the flow file changed between steps: say which version each one ran
        table.add_column("code")
    warnings = []
    for step in status.steps:
        style = _STATE_STYLE.get(str(step.state), "")
        detail = step.error if step.error else (step.message or "")
        row = [*cells(step.name), Text(str(step.state), style=style), f"{step.progress:.0f}%", *cells(detail)]
        if len(versions) > 1:
            row.extend(cells(step.code_version or ""))
        table.add_row(*row)
        if getattr(step, "warning", None):
            warnings.append(f"warning: step {step.name}: {step.warning}")
    console.print(table)
    for warning in warnings:
        console.print(Text(warning, style="yellow"))


class ProgressBars:
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

    def __enter__(self) -> ProgressBars:
        from flowdeck.store.progress import subscribe

        self.progress.start()
        self._unsubscribe = subscribe(self._on_event)
        return self

    def _on_event(self, event: Any) -> None:
        if event.run_id != self.flow_id:
            return
        task = self.tasks.get(event.step_name)
        if task is None:
            task = self.progress.add_task(esc(event.step_name), total=100, msg="")
            self.tasks[event.step_name] = task
        self.progress.update(task, completed=event.completion, msg=esc(event.message))

    def __exit__(self, *exc: object) -> None:
        self._unsubscribe()
        self.progress.stop()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop drawing the bars while the user answers a prompt, so the prompt is visible."""
        self.progress.stop()
        try:
            yield
        finally:
            self.progress.start()


class InputValues:
    """The ``--upload`` and ``--set`` pairs of one command, applied to pages as their steps await input.

    The values a page takes are all checked before any is applied, and stored together: when one is
    refused, none is (a value some page-update callback refuses puts the page back as it was).
    """

    def __init__(self, uploads: list[tuple[str, str]], sets: list[tuple[str, str]], user: str) -> None:
        self.user = user
        #: Whether this command started or moved the run, so a refusal says where the run now waits.
        self.moved = False
        self.pending: dict[tuple[str, str], str] = {}
        for title, path in uploads:
            problem = _not_a_file(Path(path).expanduser())
            if problem:
                fail(f"--upload {title}={path}: {problem}; give the path of a file to upload", 2)
            self.pending[("--upload", title)] = path
        for title, value in sets:
            self.pending[("--set", title)] = value
        self.seen_titles: dict[str, None] = {}

    def apply(self, run: Any) -> None:
        """Give the current step's inputs the values named for them, all or none.

        A near-miss title, or an option that does not fit its input (``--upload`` for a dropdown),
        is a usage error; a value or file an input refuses is refused with nothing stored.
        """
        from flowdeck.elements import InputElement

        page = run.page()
        step = run.current_step
        titles = [e.title for e in page.elements if isinstance(e, InputElement) and e.title]
        self.seen_titles.update(dict.fromkeys(titles))
        here: list[tuple[str, str, str, Any]] = []
        for (option, title), given in self.pending.items():
            element = page.get_element_by_title(title, quiet=True)
            if element is None:
                close = difflib.get_close_matches(title, titles, n=1, cutoff=0.75)
                if close:
                    self._reject(option, title, f"did you mean {close[0]!r}?")
                continue
            self._check_kind(option, title, element)
            here.append((option, title, given, element))
        if not here:
            return
        checked = self._check(run, step, here)
        self._store(run, step, checked)
        for option, title, _given, _element in here:
            del self.pending[(option, title)]

    def _check_kind(self, option: str, title: str, element: Any) -> None:
        """A usage error when ``option`` cannot give ``element`` a value (a file for a dropdown, text for a file)."""
        from flowdeck.elements import DataSource, InputElement

        kind = type(element).__name__
        if not isinstance(element, InputElement):
            known = ", ".join(repr(t) for t in self.seen_titles) or "none"
            fail(f"{option} {title!r}: {title!r} is a {kind}, not an input (inputs here: {known})", 2)
        if option == "--upload" and not isinstance(element, DataSource):
            fix = shell_command("--set", f"{title}=VALUE")
            fail(f"--upload {title!r}: {title!r} is a {kind}, not a file upload: give it with {fix}", 2)
        if option == "--set" and isinstance(element, DataSource):
            fix = shell_command("--upload", f"{title}=PATH")
            fail(f"--set {title!r}: {title!r} is a {kind}, a file upload: give it a file with {fix}", 2)

    def _check(self, run: Any, step: str, here: list[tuple[str, str, str, Any]]) -> list[tuple[str, str, Any]]:
        """Each value checked on a copy of the page: ``(option, title, value or (name, bytes))``.

        Refuses (nothing stored) when a value is refused. A value after one whose page-update
        callback may change the page (its options, say) is checked again as it is stored.
        """
        from flowdeck.flow.callbacks import reacts_to_value

        dry = run.page()  # a copy of the stored page: checking values on it stores nothing
        checked: list[tuple[str, str, Any]] = []
        problems: list[tuple[str, str, str]] = []
        reactive_before = False
        for option, title, given, element in here:
            try:
                if option == "--upload":
                    prepared: Any = checked_upload(element, Path(given).expanduser())
                else:
                    prepared = typed_value(dry, step, title, given)
            except (ValidationError, NotFoundError, OSError) as exc:
                if not reactive_before:  # no callback runs before it: the refusal stands
                    problems.append((option, title, _safe_text(exc)))
                prepared = _RECHECK
            checked.append((option, title, prepared))
            reacts = getattr(element, "on_upload_completion", None) if option == "--upload" else None
            reactive_before = reactive_before or reacts is not None or reacts_to_value(dry, element)
        if problems:
            self._refuse(run, step, problems)
        return checked

    def _store(self, run: Any, step: str, checked: list[tuple[str, str, Any]]) -> None:
        """Store the checked values in order; when one is refused, take back those stored before it."""
        from flowdeck.store import lifecycle
        from flowdeck.store import pages as page_service

        snapshot = page_service.page_snapshot(lifecycle.load(run.flow_id, run.principal), step)
        for stored, (option, title, prepared) in enumerate(checked):
            try:
                if prepared is _RECHECK:  # checked on the page as the callbacks before it left it
                    given = self.pending[(option, title)]
                    if option == "--upload":
                        prepared = checked_upload(run.page().get_element_by_title(title), Path(given).expanduser())
                    else:
                        prepared = typed_value(run.page(), step, title, given)
                if option == "--upload":
                    name, data = prepared
                    run.upload(title, name, data)
                else:
                    self._set(run, title, prepared)
            except (FlowdeckError, OSError) as exc:
                if stored:
                    page_service.restore_page(snapshot)
                self._refuse(run, step, [(option, title, _safe_text(exc))])

    @staticmethod
    def _set(run: Any, title: str, value: Any) -> None:
        from flowdeck.flow.callbacks import reacts_to_value

        page = run.page()
        element = page.get_element_by_title(title, quiet=True)
        if element is not None and reacts_to_value(page, element):
            # Its page update runs with the new value: show what it changed on the page.
            from flowdeck.cli.callbacks import fire_and_show

            console.print(f"set [bold]{esc(title)}[/]", highlight=False)
            fire_and_show(run.flow_id, run.user, "set_value", title, value)
        else:
            run.set_value(title, value)

    def _refuse(self, run: Any, step: str, problems: list[tuple[str, str, str]]) -> None:
        """Fail (exit code 1) naming each refused value; nothing of this step's values is stored.

        When this command started or moved the run, say where it waits and the command that goes on.
        """
        lines = [f"{option} {title!r}: {problem}" for option, title, problem in problems]
        if self.moved:
            refused = {(option, title) for option, title, _problem in problems}
            words: list[str] = []
            for (option, title), given in self.pending.items():
                shown = ("PATH" if option == "--upload" else "VALUE") if (option, title) in refused else given
                words += [option, f"{title}={shown}"]
            go_on = shell_command("flowdeck", "next", run.flow_id, "--user", self.user, *words)
            lines.append(f"run {run.flow_id} waits at step {step!r} with none of these values set; go on with: {go_on}")
        else:
            lines.append(f"nothing was set: run {run.flow_id} waits at step {step!r} as it did")
        fail("\n  ".join(lines), 1)

    def check_not_behind(self, run: Any) -> None:
        """Fail, before anything moves, when a value names an input only an earlier step's page has."""
        names = [step.name for step in run.flow.steps]
        current = run.current_step
        if current not in names or not self.pending:
            return
        here = run.page()
        elsewhere = [
            (option, title) for option, title in self.pending if here.get_element_by_title(title, quiet=True) is None
        ]
        if not elsewhere:
            return
        earlier = [(step, run.page(step)) for step in names[: names.index(current)]]  # each page read once
        for option, title in elsewhere:
            for step, page in earlier:
                if page.get_element_by_title(title, quiet=True) is not None:
                    fail(
                        f"{option} {title!r}: that input is on step {step!r}, before the current step {current!r}; "
                        "go back to it first: "
                        + shell_command("flowdeck", "back", run.flow_id, "--user", run.user)
                        + "\n  (each back reopens one step: repeat it until that step is open)",
                        2,
                    )

    def unplaced(self) -> list[str]:
        """A line for each value whose title no page of the run had so far, with a close title if any."""
        lines = []
        for option, title in self.pending:
            close = difflib.get_close_matches(title, list(self.seen_titles), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            lines.append(f"{option} {title!r} names no input of the run's pages so far{hint}")
        return lines

    def check_all_used(self) -> None:
        """Fail when an ``--upload``/``--set`` named an input that no page of the run had."""
        if self.pending:
            option, title = next(iter(self.pending))
            self._reject(option, title, "")

    def _reject(self, option: str, title: str, hint: str) -> None:
        known = ", ".join(repr(t) for t in self.seen_titles) or "none"
        fail(
            f"{option} {title!r}: no input of that title on the run's pages"
            + (f"; {hint}" if hint else "")
            + f" (inputs seen: {known})",
            2,
        )


#: A value whose check waits for the page the callbacks before it leave.
_RECHECK = object()


def typed_value(page: Any, step: str, title: str, text: str) -> Any:
    """The value ``text`` gives input ``title``, checked by setting it on ``page`` (a copy: nothing is stored).

    One rule for every ``--set`` and prompt answer (see ``SET_HELP``): text that parses as JSON is
    that JSON value; other text is read as the input reads typing (``value_from_text``). A JSON
    number, true, false or null the input refuses is read as text too, so ``--set Year=2024``
    fills a text box; a JSON list or quoted text the input refuses is refused.
    """
    from flowdeck.store import pages as page_service

    parsed = parse_value(text)
    if parsed is not text:
        try:
            page_service.set_value_on(page, step, title, parsed)
            return parsed
        except ValidationError:
            if isinstance(parsed, str | list | dict):
                raise
    value = page.get_element_by_title(title).value_from_text(text)
    page_service.set_value_on(page, step, title, value)
    return value


def checked_upload(element: Any, path: Path) -> tuple[str, bytes]:
    """``(file name, bytes)`` of ``path`` once ``element`` (a DataSource) would take it: refused files
    (empty, too large, of another type, not readable as their type) raise ValidationError, storing nothing."""
    from flowdeck.config import get_settings
    from flowdeck.store import pages as page_service

    name = page_service.upload_filename(path.name)
    limit = get_settings().max_upload_bytes
    with path.open("rb") as file:
        data = file.read(limit + 1)  # one byte past the limit tells an oversized file; no more is read
    page_service.check_upload(element, name, data, over_limit="is larger than")
    return name, data


def _prompt_missing(run: Any, missing: list[str], bars: ProgressBars) -> None:
    """Ask for each missing input on the terminal; a refused answer is explained and asked again.

    End of input (Ctrl-D) or Ctrl-C leaves the run waiting at its step and says how to go on.
    """
    from flowdeck.elements import DataSource

    page = run.page()
    with bars.paused():
        for title in missing:
            element = page.get_element_by_title(title, quiet=True)
            while True:
                try:
                    if isinstance(element, DataSource):
                        answer = typer.prompt(f"{title} (file to upload, {'/'.join(element.options)})")
                        path = Path(answer).expanduser()
                        problem = _not_a_file(path)
                        if problem:
                            err_console.print(Text(f"{answer!r}: {problem}; give the path of a file", style="red"))
                            continue
                        run.upload(title, path.name, path.read_bytes())
                    else:
                        hint = getattr(element, "options", None)
                        raw = typer.prompt(f"{title}" + (f" {hint}" if hint else ""))
                        run.set_value(title, typed_value(run.page(), run.current_step, title, raw))
                    break
                except (ValidationError, OSError) as exc:
                    err_console.print(Text(f"{_safe_text(exc)}; try again (Ctrl-D to stop)", style="red"))
                except (typer.Abort, KeyboardInterrupt, EOFError):
                    err_console.print(
                        Text(
                            f"\nstopped: run {run.flow_id} waits at step {run.current_step!r}; go on with "
                            + _next_command(run.flow_id, run.user, "TITLE=PATH", "TITLE=VALUE")
                        ),
                        soft_wrap=True,
                    )
                    raise typer.Exit(130) from None


def _safe_text(exc: BaseException) -> str:
    """An error's message for the terminal (an ``OSError`` as its reason and file name)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


def failure_location(exc: BaseException) -> str | None:
    """``file:line`` of the innermost frame of the flow's own code that raised, if known."""
    cause = exc.__cause__
    if cause is None or cause.__traceback__ is None:
        return None
    package = str(Path(__file__).resolve().parents[1])
    where = None
    for frame in traceback_module.extract_tb(cause.__traceback__):
        filename = str(Path(frame.filename).resolve())
        if not filename.startswith(package) and "site-packages" not in filename:
            where = f"{frame.filename}:{frame.lineno}"
    return where


def report_failure(run_handle: Any, exc: StepFailedError, user: str) -> None:
    if run_handle is not None:
        print_status(run_handle.status())
    where = failure_location(exc)
    message = str(exc).replace("; fix the cause and call run.rerun()", "")
    fail(
        f"{message}"
        + (f"\n  at {where}" if where else "")
        + f"\n  fix the cause, then: {shell_command('flowdeck', 'rerun', exc.flow_id, '--user', user)}"
    )


def drive(run_handle: Any, inputs: InputValues, user: str, interactive: bool, bars: ProgressBars) -> None:
    """Advance ``run_handle`` step by step, giving each page its inputs, until the run is complete."""
    inputs.check_not_behind(run_handle)
    while run_handle.current_step is not None:
        step = run_handle.current_step
        inputs.apply(run_handle)
        try:
            run_handle.next()
        except MissingInputError as exc:
            if interactive and sys.stdin.isatty():
                _prompt_missing(run_handle, exc.missing, bars)
                continue
            print_status(run_handle.status())
            # Values for titles no page had are never used now the run stops here: say so too.
            unplaced = "".join(f"; {line}" for line in inputs.unplaced())
            fail(
                f"{exc}{unplaced}. Give them with --upload TITLE=PATH / --set TITLE=VALUE: "
                + _next_command(run_handle.flow_id, user, "...", "..."),
                2,
            )
        except StepFailedError as exc:
            report_failure(run_handle, exc, user)
        except StepStateError as exc:
            flow_id = run_handle.flow_id
            from flowdeck.flow.executors import is_busy

            if is_busy(flow_id):  # a step of the run is running elsewhere: nothing here to press
                fail(f"{exc}\n  follow it with: {shell_command('flowdeck', 'status', flow_id, '--user', user)}")
            fail(
                f"{exc}\n  the run waits at step {step!r}:"
                f"\n  see its page with: {shell_command('flowdeck', 'page', flow_id, '--user', user)}"
                f"\n  press its buttons with: {shell_command('flowdeck', 'click', flow_id, 'TITLE', '--user', user)}"
                f"\n  then go on with: {shell_command('flowdeck', 'next', flow_id, '--user', user)}"
            )
        inputs.moved = True
        console.print(f"step [bold]{esc(step)}[/]: [green]complete[/]")
    inputs.check_all_used()


def print_result(run_handle: Any) -> None:
    """Print the status table, then the pages the run ends on (every step after its last input step)."""
    from flowdeck.flow.model import StepType
    from flowdeck.page.text import render_page_text

    print_status(run_handle.status())
    steps = list(run_handle.flow.steps)
    inputs = [i for i, step in enumerate(steps) if step.type == StepType.INPUT]
    shown = steps[inputs[-1] + 1 :] if inputs and inputs[-1] + 1 < len(steps) else steps[-1:]
    width = min(console.width, 120)
    for step in shown:
        console.print(render_page_text(run_handle.page(step.name), width=width), markup=False, highlight=False)


def run(
    flow_file: Annotated[str, typer.Argument(help="FLOW_FILE[:name]: a .py file and, if it holds several, the flow.")],
    user: Annotated[str, typer.Option("--user", "-u", help="Who runs the flow.")],
    upload: Annotated[list[str] | None, typer.Option("--upload", help="TITLE=PATH for a DataSource.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help=SET_HELP)] = None,
    interactive: Annotated[bool, typer.Option(help="Prompt for missing inputs on a terminal.")] = True,
    headless: Annotated[
        bool, typer.Option("--headless", help="FLOW_FILE is the name of a registered flow; run it without prompts.")
    ] = False,
    params: Annotated[
        Path | None, typer.Option("--params", help="With --headless: a JSON file of input parameters.")
    ] = None,
) -> None:
    """Run a flow from a file: every step, with the inputs given, prompting for missing ones."""
    import flowdeck
    from flowdeck.flow.loader import load_flow_file

    if headless:
        if upload or set_:
            option = "--upload" if upload else "--set"
            fail(f"{option} goes with a flow file; with --headless give the inputs in a --params JSON file", 2)
        _run_headless(flow_file, user, params)
        return
    if params is not None:
        fail("--params goes with --headless (a registered flow's name); use --upload/--set with a flow file", 2)

    try:
        flow, _ref = load_flow_file(flow_file)
    except ValidationError as exc:
        fail(str(exc))
    inputs = InputValues(parse_pairs(upload, "--upload"), parse_pairs(set_, "--set"), user)
    run_handle: Any = None
    with ProgressBars("") as bars:
        try:
            run_handle = flowdeck.start(flow, user=user)
        except StepFailedError as exc:
            report_failure(exc.run, exc, user)
        acting_on(run_handle.flow_id, user)
        inputs.moved = True  # the first step ran: a refused value leaves a run waiting, to go on with
        bars.flow_id = run_handle.flow_id
        console.print(f"started run [bold]{run_handle.flow_id}[/] of flow [bold]{esc(flow.name)}[/]")
        drive(run_handle, inputs, user, interactive, bars)
    print_result(run_handle)


def _run_headless(name: str, user: str, params: Path | None) -> None:
    import json

    from flowdeck.flow.headless import run_headless

    input_parameters = None
    if params is not None:
        try:
            input_parameters = json.loads(params.expanduser().read_text())
        except (OSError, ValueError) as exc:
            fail(f'--params {str(params)!r}: {exc}; give a JSON file like {{"steps": {{...}}}}', 2)
    flow_id = run_headless(name, user, input_parameters, started_by=f"cli:{user}")
    from flowdeck.auth.users import resolve_principal
    from flowdeck.store import runs as run_service

    snapshot = run_service.flow_status(run_service.load_run(flow_id, resolve_principal(user)))
    console.print(f"run [bold]{flow_id}[/] of flow [bold]{name}[/]")
    print_status(snapshot)
    if str(snapshot.state) == "failed":
        fail(f"run {flow_id} failed; see: {shell_command('flowdeck', 'status', flow_id, '--user', user)}")
    if snapshot.current_step is not None:
        console.print(
            f"run {flow_id} waits for input at step {snapshot.current_step!r}; go on with: "
            + _next_command(flow_id, user, "TITLE=PATH", "TITLE=VALUE"),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


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
    from flowdeck.flow.registry import origins_of
    from flowdeck.store import lifecycle

    table = Table("flow", "owner", "state", "current step", "created", "started by")
    table.add_column("run", no_wrap=True)
    views = lifecycle.list_runs(resolve_principal(user))
    origins = origins_of([view.run.id for view in views])
    for view in views:
        run = view.run
        table.add_row(
            *cells(
                run.flow_name,
                run.owner,
                run.state,
                run.current_step or "",
                str(run.created_at)[:19],
                origins.get(run.id, run.owner),
                run.id,
            )
        )
    console.print(table)


def cancel(
    flow_id: Annotated[str, typer.Argument(help="The run id.")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="Who cancels.")] = None,
) -> None:
    """Cancel the step a run is running now (in any process); the run can then be re-run."""
    import flowdeck

    acting_on(flow_id, user)
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


def _change_shares(
    flow_id: str, users: list[str] | None, groups: list[str] | None, acting: str | None, *, revoke: bool
) -> None:
    from flowdeck.auth.users import resolve_principal
    from flowdeck.store import runs as run_service

    require_whom(users, groups, revoke=revoke, how="--user NAME and/or --group NAME")
    who = resolve_principal(acting)
    if revoke:
        run_service.unshare_run(flow_id, who, users or [], groups or [])
    else:
        run_service.share_run(flow_id, who, users or [], groups or [])
    print_shared("run", flow_id, users or [], groups or [], revoke=revoke)


def share(
    flow_id: Annotated[str, typer.Argument(help="The run id.")],
    with_user: SharedUsers = None,
    with_group: SharedGroups = None,
    acting: Acting = None,
    revoke: Annotated[bool, typer.Option("--revoke", help="Stop sharing with them instead.")] = False,
) -> None:
    """Share a run: the users and groups named may see and continue it (or stop with --revoke).

    Shared with: the users named by --user and the groups named by --group (both repeatable; --with-user
    and --with-group are the same); they must exist already.

    Who acts: --as, the run's owner or an admin.
    """
    _change_shares(flow_id, with_user, with_group, acting, revoke=revoke)


def unshare(
    flow_id: Annotated[str, typer.Argument(help="The run id.")],
    with_user: UnsharedUsers = None,
    with_group: UnsharedGroups = None,
    acting: Acting = None,
) -> None:
    """Stop sharing a run with users and groups (the same as share --revoke).

    No longer shared with: the users named by --user and the groups named by --group (both repeatable;
    --with-user and --with-group are the same).

    Who acts: --as, the run's owner or an admin.
    """
    _change_shares(flow_id, with_user, with_group, acting, revoke=True)


def register(app: typer.Typer) -> None:
    """Add the run commands to ``app``."""
    app.command("run")(run)
    app.command("status")(status)
    app.command("runs")(runs)
    app.command("page")(page)
    app.command("share")(share)
    app.command("unshare")(unshare)
    app.command("cancel")(cancel)
    app.command("fork")(fork)
