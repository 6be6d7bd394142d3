"""``flowdeck click``: firing a page's callbacks from the command line, and printing what they changed."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from flowdeck.cli.common import acting_on, console, err_console, esc, fail, shell_command

__all__ = ["click", "fire_and_show", "print_outcome", "register"]


def print_outcome(outcome: dict[str, Any], width: int | None = None) -> None:
    """Print a callback's outcome (its JSON): the message, the drilldown card, or the cards that changed.

    Cards are shown as ``flowdeck page`` shows them.
    """
    from flowdeck.page import Card
    from flowdeck.page.text import render_cards_text

    width = width or min(console.width, 120)
    kind = outcome.get("kind")
    if outcome.get("message") is not None:
        console.print(esc(outcome["message"]), highlight=False)
    drilldown = outcome.get("drilldown")
    if drilldown:
        shown = f"{drilldown.get('type', 'modal')}, {drilldown.get('size') or 'medium'}"
        console.print(f"drilldown ({esc(shown)}):", highlight=False)
        card = Card.from_json(drilldown["card"])
        console.print(render_cards_text([card], width=width), markup=False, highlight=False, end="")
    download = outcome.get("download")
    if download:
        export = shell_command("flowdeck", "assets", "export", download.get("asset_id"), "PATH")
        console.print(
            f"download: asset {esc(download.get('asset_id'))} as {esc(download.get('filename'))} "
            f"({esc(download.get('mime_type'))}); save it with: {esc(export)}",
            highlight=False,
        )
    changed = outcome.get("changed_cards") or []
    removed = outcome.get("removed_cards") or []
    if outcome.get("page_title"):
        console.print(f"page title is now [bold]{esc(outcome['page_title'])}[/]", highlight=False)
    if changed or removed or kind in ("page_update", "toggle"):
        titles = ", ".join(card.get("title") or card.get("id", "") for card in changed) or "none"
        removal = f"; removed cards: {', '.join(removed)}" if removed else ""
        console.print(f"page updated; changed cards: {titles}{removal}", markup=False, highlight=False)
        cards = [Card.from_json(card) for card in changed]
        if cards:
            console.print(render_cards_text(cards, width=width), markup=False, highlight=False, end="")
    elif kind == "none":
        console.print("nothing happened: the element has no callback")
    if outcome.get("next_disabled") and (changed or removed or kind in ("page_update", "toggle")):
        titles = ", ".join(repr(title) for title in outcome["next_disabled"])
        console.print(f"Next stays disabled by {esc(titles)}", highlight=False)


def fire_and_show(
    flow_id: str,
    user: str | None,
    kind: str,
    target: str | None,
    value: Any = None,
    input_data: Any = None,
    show_traceback: bool = True,
) -> dict[str, Any]:
    """Fire one callback as ``user``, tell the run's open browsers, print the outcome; returns its JSON.

    A callback that raises is re-raised (``CallbackError``: one error line and exit code 1; the page
    is as it was), after its traceback when ``show_traceback``.
    """
    from flowdeck.auth.users import resolve_principal
    from flowdeck.errors import CallbackError
    from flowdeck.flow.callbacks import CallbackEvent, fire

    principal = resolve_principal(user)
    event = CallbackEvent(kind=kind, target=target, value=value, input_data=input_data)
    try:
        outcome = fire(flow_id, principal, event, notify=True).to_json()
    except CallbackError as exc:
        if show_traceback and exc.traceback:
            err_console.print(exc.traceback.rstrip(), markup=False, highlight=False, style="dim")
        raise
    print_outcome(outcome)
    return outcome


def click(
    flow_id: Annotated[str, typer.Argument(help="The run id (see 'flowdeck runs').")],
    title: Annotated[str, typer.Argument(help="The title (or id) of the button, rich text or infographic.")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="Who clicks.")] = None,
    data: Annotated[
        str | None, typer.Option("--data", help="Input data for the callback, a JSON object (e.g. a table row).")
    ] = None,
    show_traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the traceback of a callback that raises.")
    ] = False,
) -> None:
    """Click an element of the run's current page: prints the message, the drilldown card, or what changed.

    The cards a page update changed are printed as 'flowdeck page' prints them; browsers open on
    the run show the change too.
    """
    acting_on(flow_id, user)
    input_data = None
    if data is not None:
        try:
            input_data = json.loads(data)
        except ValueError as exc:
            fail(f"--data takes a JSON object, e.g. '{{\"row\": 17}}': {exc}", 2)
        if not isinstance(input_data, dict):
            fail(f"--data takes a JSON object, e.g. '{{\"row\": 17}}', got {data!r}", 2)
    fire_and_show(flow_id, user, "click", title, input_data=input_data, show_traceback=show_traceback)


def register(app: typer.Typer) -> None:
    """Add ``click`` to ``app``."""
    app.command("click")(click)
