"""Pages, element values, uploads, future elements and element links."""

from __future__ import annotations

import hashlib
import io
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote

from flowdeck.errors import FlowdeckError, NotFoundError, StepStateError, ValidationError
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import outputs as output_records
from flowdeck.storage.records import pages as page_records
from flowdeck.storage.records import runs as run_records
from flowdeck.store.runs import RunView
from flowdeck.store.tables import bind_big_tables, prepare_big_tables

__all__ = [
    "InitialPageSource",
    "NextBlockers",
    "PageSnapshot",
    "check_upload",
    "create_element_link",
    "create_future_element",
    "find_element",
    "forget_future_elements",
    "get_element_value",
    "get_page",
    "latest_page",
    "next_blockers",
    "page_document",
    "page_snapshot",
    "page_with_snapshot",
    "provide_initial_pages",
    "raw_upload",
    "restore_page",
    "run_default_action",
    "set_value",
    "start_attempt",
    "takes_uploads",
    "update_page",
    "upload",
    "upload_filename",
]


def _page_classes() -> Any:
    from flowdeck import page as page_module

    return page_module


def _elements() -> Any:
    from flowdeck import elements as element_module

    return element_module


def _dump(page: Any) -> str:
    return json.dumps(page.to_json(), separators=(",", ":"), allow_nan=False)


def _load(document: str, view: RunView | None = None, step_name: str | None = None) -> Any:
    """The page of stored JSON text; read from ``step_name`` of ``view``'s run, its big tables can load their frames."""
    page = _page_classes().Page.from_json(json.loads(document))
    if view is not None and step_name is not None:
        bind_big_tables(page, view, step_name)
    return page


def _check_page(page: Any) -> None:
    if not isinstance(page, _page_classes().Page):
        raise ValidationError(f"update_page() takes a Page, got {type(page).__name__}")
    page.validate()


def _with_future_elements(conn: Any, run_id: str, step_name: str, page: Any) -> Any:
    rows = page_records.future_elements_for(conn, run_id, step_name)
    if not rows:
        return page
    Element = _elements().Element
    Card = _page_classes().Card
    # A step that makes the same element again (its action run again after back()) replaces the
    # one it made before: a later row with the same source step and id, or input title, wins.
    latest: list[tuple[set[tuple[str, str]], Any]] = []
    for row in rows:
        element = Element.from_json(json.loads(row.document))
        keys = set(_future_keys(row.source_step, element))
        latest = [(k, e) for k, e in latest if not k & keys]
        latest.append((keys, element))
    for _, element in latest:
        if page.get_element_by_id(element.id, quiet=True) is not None:
            continue
        section_title = page.sections[0].title if page.sections else ""
        page.add_card_to_section(Card(element.title, [element]), section_title)
    return page


def _future_keys(source_step: str, element: Any) -> list[tuple[str, str]]:
    keys = [(source_step, "id:" + element.id)]
    if isinstance(element, _elements().InputElement) and element.title:
        keys.append((source_step, "title:" + element.title))
    return keys


def forget_future_elements(conn: Any, run_id: str, source_step: str) -> None:
    """Drop the future elements ``source_step`` made in its earlier attempts (it runs again: a re-run
    replaces what a step gave later steps, as it replaces its outputs)."""
    page_records.delete_future_elements_from(conn, run_id, source_step)


def start_attempt(
    run_id: str,
    step_name: str,
    attempt: int,
    initial_page: Any,
    conn: Any = None,
    *,
    awaits_elements: bool | None = None,
) -> None:
    """Give a new step attempt its initial page (plus the future elements meant for the step).

    ``conn``: write in that transaction (the one that begins the attempt) instead of a new one.
    ``awaits_elements=False``: the caller read in that transaction that no future element waits for
    the step (None: look).
    """
    _check_page(initial_page)
    if conn is None:
        with get_storage().db.write() as conn:
            _insert_initial_page(conn, run_id, step_name, attempt, initial_page, awaits_elements)
    else:
        _insert_initial_page(conn, run_id, step_name, attempt, initial_page, awaits_elements)


def _insert_initial_page(
    conn: Any, run_id: str, step_name: str, attempt: int, initial_page: Any, awaits_elements: bool | None
) -> None:
    page = initial_page.copy()
    if awaits_elements is not False:
        page = _with_future_elements(conn, run_id, step_name, page)
    page_records.insert_page(conn, run_id, step_name, attempt, _dump(page))


def page_was_updated(conn: Any, run_id: str, step_name: str, attempt: int) -> bool:
    """Whether the step's attempt stored a page beyond its initial one (``update_page`` was called)."""
    return page_records.page_versions(conn, run_id, step_name, max(attempt, 1)) > 1


def _latest(conn: Any, view: RunView, step_name: str) -> Any | None:
    step = view.step(step_name)
    row = page_records.latest_page(conn, view.id, step_name, max(step.attempt, 1))
    return None if row is None else _load(row.document, view, step_name)


InitialPageSource = Callable[[RunView, str], Any]
"""``(run, step name) -> Page | None``: the page a step of the run's flow starts with."""

_initial_page_source: InitialPageSource | None = None


def provide_initial_pages(source: InitialPageSource) -> None:
    """Install where the initial page of a step that has not run yet comes from.

    Only the flow runner knows the flows' definitions; it installs its source when it is imported,
    and ``flowdeck.StoreInterface`` imports it. Nothing is stored for a step before it runs.
    """
    global _initial_page_source
    _initial_page_source = source


def _initial_page(view: RunView, step_name: str) -> Any | None:
    """A copy of the page ``step_name`` starts with, or None when no source can tell."""
    source = _initial_page_source
    if source is None:
        return None
    try:
        page = source(view, step_name)
    except FlowdeckError:  # the flow's module is gone or no longer has the step
        return None
    return None if page is None else page.copy()


def get_page(view: RunView, step_name: str) -> Any:
    """The newest version of a step's page (its attempt's initial page until updated).

    A step that has not run yet gives the page it will start with, with the future elements
    meant for it, without storing anything.
    """
    with get_storage().db.read() as conn:
        page = _latest(conn, view, step_name)
    if page is None:
        page = _initial_page(view, step_name)
        if page is not None:
            with get_storage().db.read() as conn:
                page = _with_future_elements(conn, view.id, step_name, page)
    if page is None:
        raise NotFoundError(
            f"step {step_name!r} of run {view.id!r} has not run yet, and the flow that defines its "
            "initial page could not be loaded in this process"
        )
    return page


def page_document(view: RunView, step_name: str) -> str:
    """The JSON text of a step's newest page, as stored when it is in the current page format.

    UIs read pages on every refresh; sending the stored text skips rebuilding every table's
    DataFrame only to write it out again.
    """
    from flowdeck.page.page import PAGE_SCHEMA_VERSION

    step = view.step(step_name)
    with get_storage().db.read() as conn:
        row = page_records.latest_page(conn, view.id, step_name, max(step.attempt, 1))
    if row is None:
        raise NotFoundError(f"step {step_name!r} of run {view.id!r} has not run yet, so it has no page")
    document: str = row.document
    if not document.startswith(f'{{"schema_version":{PAGE_SCHEMA_VERSION},'):
        document = _dump(_load(document))
    return document


def update_page(view: RunView, step_name: str, page: Any) -> None:
    """Store ``page`` as the newest version of the step's page.

    A step that has not run yet is refused (``StepStateError``): it starts from its initial page when
    it runs, so the update would be lost.
    """
    _check_page(page)
    step = view.step(step_name)
    if step.state == "pending":
        raise StepStateError(
            f"step {step_name!r} has not run yet: when it runs it starts from its initial page, so this "
            f"update would be lost; to put an element on its page, call "
            f"store.create_future_element(element, {step_name!r}) from an earlier step"
        )
    document = page.to_json()
    big_tables = prepare_big_tables(page, document)
    with get_storage().db.write() as conn:
        run_records.lock_run(conn, view.id)
        if step.state in ("complete", "stale") and step_name != view.current_step:
            _check_frozen_inputs(_latest(conn, view, step_name), page, view.id, step_name, step.state)
        for name, stored in big_tables:
            output_records.insert_output(conn, view.id, step_name, name, stored)
        text = json.dumps(document, separators=(",", ":"), allow_nan=False)
        page_records.insert_page(conn, view.id, step_name, max(step.attempt, 1), text)


def _check_frozen_inputs(stored: Any, page: Any, run_id: str, step_name: str, state: str) -> None:
    """``StepStateError`` when ``page`` changes or drops an input of a step the run has left.

    Its values are what the step's action and later steps used: only ``back()`` reopens them.
    """
    if stored is None:
        return
    kind = _elements().InputElement
    new = {e.id: e for e in page.elements if isinstance(e, kind)}
    for element in stored.elements:
        if not isinstance(element, kind):
            continue
        replaced = new.get(element.id)
        if replaced is None or replaced.to_json().get("value") != element.to_json().get("value"):
            raise StepStateError(
                f"step {step_name!r} of run {run_id!r} is {state}: the values of its inputs are frozen as its "
                f"action used them, and this page changes or drops {element.title or element.id!r}; "
                f"run.back() reopens the step to change them (its page may change otherwise)"
            )


def _lock_idle(conn: Any, run_id: str, step_name: str, claim_token: str | None = None) -> None:
    """Lock the run for an input change; refused once an action of the run is in flight.

    A callback changes inputs under its own claim: ``claim_token`` is that claim's token.
    """
    run = run_records.lock_run(conn, run_id)
    if run is None or (claim_token is not None and run.action_token == claim_token):
        return
    if run.action is not None:
        raise StepStateError(
            f"run {run_id!r} is busy with {run.action}(); change {step_name!r}'s inputs once it is done"
        )
    # Checked again here, under the lock: an action may have moved the run on since the caller looked.
    if run.current_step != step_name or run.state != "awaiting_input":
        raise StepStateError(
            f"step {step_name!r} of run {run_id!r} no longer awaits input (the run is {run.state}"
            + (f" at step {run.current_step!r}" if run.current_step else "")
            + "); its inputs are as the step used them: go back to it to change them"
        )


def find_element(page: Any, title_or_id: str) -> Any | None:
    """The element with this id, else the one with this title, else None."""
    return page.get_element_by_id(title_or_id, quiet=True) or page.get_element_by_title(title_or_id, quiet=True)


def _input_element(page: Any, step_name: str, title_or_id: str, view: RunView | None = None) -> Any:
    """The input element ``title_or_id`` of ``page``; ``NotFoundError`` saying where else in the run
    ``view`` it is (when given), or ``ValidationError`` when the element takes no input."""
    element = find_element(page, title_or_id)
    if element is None:
        titles = [e.title for e in page.elements if isinstance(e, _elements().InputElement)]
        hint = "" if view is None else _owner_hint(view, step_name, title_or_id)
        raise NotFoundError(f"step {step_name!r} has no element {title_or_id!r}; its inputs are {titles}{hint}")
    if not isinstance(element, _elements().InputElement):
        raise ValidationError(f"element {element.title!r} of step {step_name!r} is not an input element")
    return element


def _owner_hint(view: RunView, step_name: str, title_or_id: str) -> str:
    """Where else in the run an input ``title_or_id`` is, and how to reach it ("" when nowhere)."""
    current = next((s.position for s in view.steps if s.name == view.current_step), None)
    with get_storage().db.read() as conn:
        for step in sorted(view.steps, key=lambda s: s.position):
            if step.name == step_name:
                continue
            page = _latest(conn, view, step.name)
            element = None if page is None else find_element(page, title_or_id)
            if not isinstance(element, _elements().InputElement):
                continue
            where = f". {title_or_id!r} is an input of step {step.name!r} ({step.state})"
            if current is not None and step.position < current:
                return where + ": run.back() reopens that step, with its values, to change it"
            return where + ": it takes a value while that step is the current one"
    return ""


def set_value(view: RunView, step_name: str, title_or_id: str, value: Any, *, claim_token: str | None = None) -> None:
    """Set an input element's value (validated), as a new page version.

    ``claim_token`` lets a callback in flight (holding that claim) change the value.
    """
    step = view.step(step_name)
    with get_storage().db.write() as conn:
        _lock_idle(conn, view.id, step_name, claim_token)
        page = _latest(conn, view, step_name)
        if page is None:
            raise NotFoundError(f"step {step_name!r} has no page yet")
        element = _input_element(page, step_name, title_or_id, view)
        if isinstance(element, _elements().DataSource):
            raise ValidationError(
                f"{element.title!r} is a DataSource: give it a file with run.upload({element.title!r}, filename, data)"
            )
        element.set_value(value)
        page_records.insert_page(conn, view.id, step_name, max(step.attempt, 1), _dump(page))


MAX_FILENAME_CHARS = 255


def upload_filename(filename: object) -> str:
    """The name an upload is kept under: its last path part, checked to be a plain file name.

    Directories (``/`` or ``\\``) are dropped as browsers drop them; a name with control or
    format characters (NUL, line breaks, right-to-left overrides), ``.``/``..`` or more than
    ``MAX_FILENAME_CHARS`` characters is a ``ValidationError``.
    """
    if not isinstance(filename, str) or not filename:
        raise ValidationError("an upload needs a file name, e.g. 'data.csv'")
    if len(filename) > 4 * MAX_FILENAME_CHARS:
        raise ValidationError(
            f"the upload's file name is {len(filename):,} characters long; "
            f"give one of at most {MAX_FILENAME_CHARS}, e.g. 'data.csv'"
        )
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    bad = sorted({repr(c) for c in name if unicodedata.category(c) in ("Cc", "Cf", "Cs")})
    if bad:
        raise ValidationError(
            f"the upload's file name holds control or format characters ({', '.join(bad)}); "
            "rename the file, e.g. 'data.csv'"
        )
    if name.strip() in ("", ".", ".."):
        raise ValidationError(f"the upload's file name {filename!r} names no file; give one such as 'data.csv'")
    if len(name) > MAX_FILENAME_CHARS:
        raise ValidationError(
            f"the upload's file name is {len(name):,} characters long; give one of at most {MAX_FILENAME_CHARS}"
        )
    return name


def check_upload(element: Any, filename: str, data: bytes, *, over_limit: str | None = None) -> str:
    """The format ``element`` (a DataSource) would store ``data`` as; ``ValidationError`` for a file it
    refuses (over the upload limit, empty, of another type, not readable as its type). Stores nothing.

    ``over_limit`` words a file too large (default: its size); ``filename`` is already checked.
    """
    from flowdeck import formats

    limit = get_storage().settings.max_upload_bytes
    if len(data) > limit:
        size = over_limit or f"is {len(data):,} bytes, over"
        raise ValidationError(
            f"file {filename!r} {size} the upload limit of {limit:,} bytes (setting max_upload_bytes)"
        )
    if not data:
        raise ValidationError(f"file {filename!r} is empty")
    file_format = element.check_upload(filename, data)
    if file_format is None:  # a raw upload: kept as bytes, named by its extension
        return filename.rsplit(".", 1)[-1].lower()[:20] if "." in filename else "bin"
    formats.parse_table(data, filename, file_format)  # a bad file is refused now, not at next()
    return file_format


def upload(
    view: RunView,
    step_name: str,
    title_or_id: str,
    filename: str,
    data: bytes | bytearray | memoryview | io.IOBase,
    *,
    claim_token: str | None = None,
) -> None:
    """Store an uploaded file for a DataSource after checking its size, type and content.

    ``claim_token`` lets a callback in flight (holding that claim) store the upload.
    """
    storage = get_storage()
    limit = storage.settings.max_upload_bytes
    from_file = isinstance(data, io.IOBase)
    if from_file:
        data = data.read(limit + 1)  # one byte past the limit tells an oversized file; no more is read
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ValidationError(f"upload data must be bytes or a binary file object, got {type(data).__name__}")
    data = bytes(data)
    filename = upload_filename(filename)
    step = view.step(step_name)
    with storage.db.read() as conn:
        page = _latest(conn, view, step_name)
    if page is None:
        raise NotFoundError(f"step {step_name!r} has no page yet")
    element = _input_element(page, step_name, title_or_id, view)
    if not isinstance(element, _elements().DataSource):
        raise ValidationError(f"element {element.title!r} is not a DataSource; set it with run.set_value()")
    file_format = check_upload(element, filename, data, over_limit="is larger than" if from_file else None)
    sha256 = hashlib.sha256(data).hexdigest()
    stored = storage.values.put_bytes(data)
    with storage.db.write() as conn:
        _lock_idle(conn, view.id, step_name, claim_token)
        current = _latest(conn, view, step_name)
        target = current.get_element_by_id(element.id)
        target.value = _elements().DataSource.describe_upload(filename, data)
        page_records.insert_upload(
            conn,
            run_id=view.id,
            step_name=step_name,
            attempt=max(step.attempt, 1),
            element_id=element.id,
            element_title=element.title,
            filename=filename,
            file_format=file_format,
            sha256=sha256,
            stored=stored,
        )
        page_records.insert_page(conn, view.id, step_name, max(step.attempt, 1), _dump(current))


@dataclass(frozen=True)
class PageSnapshot:
    """Where a step's page and uploads stood, so a failed change can be undone exactly."""

    run_id: str
    step_name: str
    attempt: int
    version: int
    upload_id: int


def page_snapshot(view: RunView, step_name: str) -> PageSnapshot:
    """The position of a step's newest page version and upload now."""
    return page_with_snapshot(view, step_name)[1]


def page_with_snapshot(view: RunView, step_name: str) -> tuple[str, PageSnapshot]:
    """The JSON text of a step's newest page (as :func:`page_document`) and its snapshot, read together."""
    from flowdeck.page.page import PAGE_SCHEMA_VERSION

    attempt = max(view.step(step_name).attempt, 1)
    with get_storage().db.read() as conn:
        row = page_records.latest_page(conn, view.id, step_name, attempt)
        upload_id = page_records.last_upload_id(conn, view.id, step_name)
    if row is None:
        raise NotFoundError(f"step {step_name!r} of run {view.id!r} has not run yet, so it has no page")
    document: str = row.document
    if not document.startswith(f'{{"schema_version":{PAGE_SCHEMA_VERSION},'):
        document = _dump(_load(document))
    return document, PageSnapshot(view.id, step_name, attempt, row.version, upload_id)


def restore_page(snapshot: PageSnapshot) -> None:
    """Drop every page version and upload of the step stored after ``snapshot``: the page is as it was."""
    with get_storage().db.write() as conn:
        run_records.lock_run(conn, snapshot.run_id)
        page_records.delete_pages_after(conn, snapshot.run_id, snapshot.step_name, snapshot.attempt, snapshot.version)
        page_records.delete_uploads_after(conn, snapshot.run_id, snapshot.step_name, snapshot.upload_id)


def _run_id(view: RunView | str) -> str:
    return view if isinstance(view, str) else view.id


def raw_upload(view: RunView | str, step_name: str, element: Any) -> tuple[Any, bytes] | None:
    """(upload row, bytes) of the newest upload to ``element`` in ``step_name`` (of a run or run id), or None."""
    storage = get_storage()
    with storage.db.read() as conn:
        row = page_records.latest_upload(conn, _run_id(view), step_name, element.id)
    if row is None:
        return None
    return row, bytes(storage.blobs.get(row.blob_key, row.checksum))


class NextBlockers(NamedTuple):
    """What holds a step's ``next()`` back, read from its newest page."""

    #: Titles of required inputs without a value yet.
    missing_inputs: list[str]
    #: Titles (or ids) of cards with ``disable_next=True``.
    closed_gates: list[str]


def latest_page(view: RunView, step_name: str, conn: Any) -> Any | None:
    """The newest version of the step's page in its current attempt, read in ``conn`` (None before it ran).

    The current step's page comes from ``view`` when it was read with the run.
    """
    if view.current_page_read and step_name == view.current_step:
        return None if view.current_page is None else _load(view.current_page, view, step_name)
    return _latest(conn, view, step_name)


def next_blockers(page: Any | None) -> NextBlockers:
    """The required inputs of ``page`` still empty and its cards holding ``next()`` back."""
    if page is None:
        return NextBlockers([], [])
    input_element = _elements().InputElement
    missing = [
        element.title
        for element in page.elements
        if isinstance(element, input_element) and element.required and not element.has_value()
    ]
    return NextBlockers(missing, [card.title or card.id for card in page.cards if card.disable_next])


def takes_uploads(page: Any | None) -> bool:
    """Whether ``page`` has DataSource elements, whose uploads the step's default action saves as outputs."""
    return page is not None and any(isinstance(e, _elements().DataSource) for e in page.elements)


def _parsed_upload(view: RunView | str, step_name: str, element: Any) -> Any | None:
    from flowdeck import formats

    found = raw_upload(view, step_name, element)
    if found is None:
        return None
    row, data = found
    if element.raw_upload:
        return data
    return formats.parse_table(data, row.filename, row.file_format)


def run_default_action(view: RunView | str, step_name: str) -> None:
    """Save each DataSource upload of the step as an output named by the element's title.

    Non-raw uploads are parsed into DataFrames; raw uploads are saved as bytes. ``view`` may be the
    run's id: the run and the step's page are then read in one transaction.
    """
    from flowdeck.store.outputs import save_output

    with get_storage().db.read() as conn:
        if isinstance(view, str):  # the page of the step's current attempt, in one query
            row = page_records.latest_page_of_step(conn, view, step_name)
            page = None if row is None else _load(row.document)
        else:
            page = _latest(conn, view, step_name)
    if page is None:
        return
    for element in page.elements:
        if isinstance(element, _elements().DataSource):
            value = _parsed_upload(view, step_name, element)
            if value is not None:
                save_output(_run_id(view), step_name, value, element.title)


def _element_page(view: RunView, step_name: str) -> Any:
    """The page to search for a step's elements: its newest page, else the page it will start with
    and the future elements meant for it."""
    with get_storage().db.read() as conn:
        page = _latest(conn, view, step_name) if view.step(step_name).attempt > 0 else None
    if page is None:
        initial = _initial_page(view, step_name) or _page_classes().Page(step_name, [])
        with get_storage().db.read() as conn:
            page = _with_future_elements(conn, view.id, step_name, initial)
    return page


def get_element(
    view: RunView,
    step_name: str,
    title_or_id: str,
    quiet: bool = False,
    by_id: bool = False,
    by_reference_id: bool = False,
) -> Any:
    """An element of a step's page by title (or id, or ``reference_id``); None when missing and ``quiet``.

    A title that matches no element is tried as a ``reference_id`` too: the SDK's positional argument
    is a reference id where the reference page's is a title.
    """
    try:
        page = _element_page(view, step_name)
    except NotFoundError:
        if quiet:
            return None
        raise
    if by_id:
        element, what = page.get_element_by_id(title_or_id, quiet=True), "id"
    elif by_reference_id:
        element, what = page.get_element_by_reference_id(title_or_id, quiet=True), "reference_id"
    else:
        element = page.get_element_by_title(title_or_id, quiet=True)
        if element is None:
            element = page.get_element_by_reference_id(title_or_id, quiet=True)
        what = "title or reference_id"
    if element is None and not quiet:
        titles = [e.title for e in page.elements]
        raise NotFoundError(f"step {step_name!r} has no element with {what} {title_or_id!r}; its elements are {titles}")
    return element


def sole_data_source(
    view: RunView,
    step_name: str,
    *,
    method: str = "get_raw_data_source_data",
    naming: str = "element_id=, element_title= or elem_reference_id=",
    elsewhere: str = "name the element and the step that has it",
) -> Any:
    """The one DataSource of a step's page, for a lookup that names no element.

    A page with no DataSource, or with several, is a ``ValidationError`` naming them and how to name
    one: ``naming`` lists the parameters of ``method``, the method that was called; ``elsewhere``
    says how to read an upload of another step.
    """
    page = _element_page(view, step_name)
    sources = [e for e in page.elements if isinstance(e, _elements().DataSource)]
    if len(sources) == 1:
        return sources[0]
    if not sources:
        raise ValidationError(
            f"{method}(): step {step_name!r} has no DataSource, so nothing was uploaded to it; {elsewhere}"
        )
    titles = [e.title for e in sources]
    raise ValidationError(
        f"{method}(): step {step_name!r} has {len(sources)} DataSources {titles}; name one with {naming}"
    )


def get_element_value(
    view: RunView, step_name: str, title: str, quiet: bool = False, by_reference_id: bool = False
) -> Any:
    """The typed value of an input element (a DataSource gives its DataFrame, or bytes when raw)."""
    element = get_element(view, step_name, title, quiet=quiet, by_reference_id=by_reference_id)
    if element is None:
        return None
    if isinstance(element, _elements().DataSource):
        step = view.step(step_name)
        storage = get_storage()
        with storage.db.read() as conn:
            row = output_records.find_output(conn, view.id, element.title, [(step_name, max(step.attempt, 1))])
        if row is not None:
            return storage.values.get(row)
        return _parsed_upload(view, step_name, element)  # None while nothing was uploaded
    if not isinstance(element, _elements().InputElement):
        raise ValidationError(f"element {title!r} of step {step_name!r} is not an input element and has no value")
    return element.typed_value()


def create_future_element(view: RunView, source_step: str, element: Any, future_step: str) -> None:
    """Place ``element`` on ``future_step``'s page when that step runs (addressable before)."""
    if not isinstance(element, _elements().Element):
        raise ValidationError(f"create_future_element() takes an element, got {type(element).__name__}")
    target = view.step(future_step)
    source_position = view.position(source_step) if source_step else -1
    if target.position <= source_position:
        raise ValidationError(
            f"step {future_step!r} is not after step {source_step!r}; a future element goes to a later step"
        )
    clash = _future_title_clash(view, source_step, element, future_step)
    if clash is not None:
        raise ValidationError(
            f"step {future_step!r} already has an input titled {element.title!r} ({clash}); input titles "
            "are unique on a page: give this element another title"
        )
    with get_storage().db.write() as conn:
        page_records.insert_future_element(
            conn, view.id, source_step, future_step, element.id, json.dumps(element.to_json())
        )


def _future_title_clash(view: RunView, source_step: str, element: Any, future_step: str) -> str | None:
    """Where ``future_step``'s page would already have an input of ``element``'s title, else None.

    A future element ``source_step`` made before with that title is not a clash: this one replaces it.
    """
    kinds = _elements()
    if not isinstance(element, kinds.InputElement) or not element.title:
        return None
    initial = _initial_page(view, future_step)
    own = None if initial is None else initial.get_element_by_title(element.title, quiet=True)
    if isinstance(own, kinds.InputElement) and own.id != element.id:
        return "on the page the step starts with"
    with get_storage().db.read() as conn:
        rows = page_records.future_elements_for(conn, view.id, future_step)
    for row in rows:
        if row.source_step == source_step:
            continue
        other = kinds.Element.from_json(json.loads(row.document))
        if isinstance(other, kinds.InputElement) and other.title == element.title and other.id != element.id:
            return f"a future element from step {row.source_step!r}"
    return None


def _future_element_ids(view: RunView, step_name: str) -> set[str]:
    with get_storage().db.read() as conn:
        rows = page_records.future_elements_for(conn, view.id, step_name)
    return {json.loads(row.document)["id"] for row in rows}


def _step_holding(view: RunView, element_id: str, reader_step: str | None) -> str:
    """The step whose page holds ``element_id``: the reader's, an earlier one, or a later one's future element."""
    reader_position = view.position(reader_step) if reader_step is not None else len(view.steps) - 1
    for step in reversed(view.steps[: reader_position + 1]):
        if _element_page(view, step.name).get_element_by_id(element_id, quiet=True) is not None:
            return step.name
    for step in view.steps[reader_position + 1 :]:
        if element_id in _future_element_ids(view, step.name):
            return step.name
    raise NotFoundError(
        f"no step up to {reader_step!r} has an element with id {element_id!r}, and no later step has it "
        "as a future element"
    )


def create_element_link(view: RunView, element: Any, step_name: str | None, reader_step: str | None) -> str:
    """A stable link to an element of this or an earlier step (or a future element), which the UI resolves.

    Without ``step_name`` the step is found: the reader's, else the nearest earlier step holding the
    element, else the later step it was created for with ``create_future_element``.
    """
    element_id = element if isinstance(element, str) else getattr(element, "id", None)
    if not isinstance(element_id, str):
        raise ValidationError("create_element_link() takes an element or an element id")
    if step_name is None:
        step_name = _step_holding(view, element_id, reader_step)
    elif (
        reader_step is not None
        and view.position(step_name) > view.position(reader_step)
        and element_id not in _future_element_ids(view, step_name)
    ):
        raise ValidationError(
            f"step {step_name!r} comes after step {reader_step!r}; link to elements of this or an earlier step"
        )
    page = _element_page(view, step_name)
    if element_id in _future_element_ids(view, step_name):
        return f"/runs/{view.id}/steps/{quote(step_name, safe='')}#element-{element_id}"
    found = page.get_element_by_id(element_id, quiet=True)
    if found is None:
        raise NotFoundError(f"step {step_name!r} has no element with id {element_id!r}")
    return f"/runs/{view.id}/steps/{quote(step_name, safe='')}#element-{element_id}"


# --- a callback's page: read with its claim, changed in memory, stored with its release -----------


def read_with_snapshot(conn: Any, view: RunView, step_name: str) -> tuple[str, PageSnapshot]:
    """:func:`page_with_snapshot` inside the caller's transaction (e.g. the one claiming a callback)."""
    from flowdeck.page.page import PAGE_SCHEMA_VERSION

    attempt = max(view.step(step_name).attempt, 1)
    row = page_records.latest_page(conn, view.id, step_name, attempt)
    if row is None:
        raise NotFoundError(f"step {step_name!r} of run {view.id!r} has not run yet, so it has no page")
    upload_id = page_records.last_upload_id(conn, view.id, step_name)
    document: str = row.document
    if not document.startswith(f'{{"schema_version":{PAGE_SCHEMA_VERSION},'):
        document = _dump(_load(document))
    return document, PageSnapshot(view.id, step_name, attempt, row.version, upload_id)


def parse_page(document: str, view: RunView | None = None, step_name: str | None = None) -> Any:
    """The :class:`~flowdeck.page.Page` of a stored page's JSON text (of ``step_name`` of ``view``'s run, if given)."""
    return _load(document, view, step_name)


@dataclass(frozen=True)
class PageText:
    """A page ready to store: its JSON text and the big tables it keeps as outputs."""

    text: str
    big_tables: tuple[tuple[str, Any], ...] = ()


def page_text(page: Any, *, check: bool = True) -> PageText:
    """``page`` as :func:`update_page` stores it (checked first unless ``check`` is False), not stored yet."""
    if check:
        _check_page(page)
    document = page.to_json()
    big_tables = tuple(prepare_big_tables(page, document))
    return PageText(json.dumps(document, separators=(",", ":"), allow_nan=False), big_tables)


def write_page_text(conn: Any, view: RunView, step_name: str, page: PageText) -> None:
    """Store ``page`` as the step's newest page version inside the caller's write transaction."""
    for name, stored in page.big_tables:
        output_records.insert_output(conn, view.id, step_name, name, stored)
    page_records.insert_page(conn, view.id, step_name, max(view.step(step_name).attempt, 1), page.text)


def store_page_text(view: RunView, step_name: str, page: PageText, claim_token: str) -> None:
    """Store ``page`` now, in its own transaction, for the callback holding ``claim_token``."""
    with get_storage().db.write() as conn:
        _lock_idle(conn, view.id, step_name, claim_token)
        write_page_text(conn, view, step_name, page)


def set_value_on(page: Any, step_name: str, title_or_id: str, value: Any) -> Any:
    """Set an input element's value (validated) on ``page`` in memory, as :func:`set_value` does; the element."""
    element = _input_element(page, step_name, title_or_id)
    if isinstance(element, _elements().DataSource):
        raise ValidationError(
            f"{element.title!r} is a DataSource: give it a file with run.upload({element.title!r}, filename, data)"
        )
    from flowdeck.elements.base import check_value_depth

    check_value_depth(value, f"the value for {element.title!r}")
    element.set_value(value)
    return element
