"""``flowdeck click``: firing a page's callbacks from the command line, and printing what they changed."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from flowdeck.cli.common import console, err_console, esc, fail

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
        console.print(
            f"download: asset {esc(download.get('asset_id'))} as {esc(download.get('filename'))} "
            f"({esc(download.get('mime_type'))}); save it with: flowdeck assets export {esc(download.get('asset_id'))}",
            highlight=False,
        )
    changed = outcome.get("changed_cards") or []
    removed = outcome.get("removed_cards") or []
    if outcome.get("page_title"):
        console.print(f"page title is now [bold]{esc(outcome['page_title'])}[/]", highlight=False)
    if changed or removed:
        noun = "card" if len(changed) == 1 else "cards"
        console.print(f"page updated: {len(changed)} {noun} changed" + (f", {len(removed)} removed" if removed else ""))
        cards = [Card.from_json(card) for card in changed]
        if cards:
            console.print(render_cards_text(cards, width=width), markup=False, highlight=False, end="")
    elif kind in ("page_update", "toggle"):
        console.print("page updated: no card changed")
    elif kind == "none":
        console.print("nothing happened: the element has no callback")
    if outcome.get("next_disabled"):
        titles = ", ".join(repr(title) for title in outcome["next_disabled"])
        console.print(f"Next stays disabled by {esc(titles)}", highlight=False)


def fire_and_show(
    flow_id: str, user: str | None, kind: str, target: str | None, value: Any = None, input_data: Any = None
) -> dict[str, Any]:
    """Fire one callback as ``user``, tell the run's open browsers, print the outcome; returns its JSON.

    A callback that raises is reported with its traceback and exit code 1 (the page is as it was).
    """
    from flowdeck.auth.users import resolve_principal
    from flowdeck.errors import CallbackError
    from flowdeck.flow.callbacks import CallbackEvent, fire
    from flowdeck.store import notices

    principal = resolve_principal(user)
    event = CallbackEvent(kind=kind, target=target, value=value, input_data=input_data)
    try:
        outcome = fire(flow_id, principal, event).to_json()
    except CallbackError as exc:
        traceback = getattr(exc, "traceback", None)
        if traceback:
            err_console.print(traceback.rstrip(), markup=False, highlight=False, style="dim")
        fail(f"{exc} (the page is as it was)")
    notices.publish_callback(flow_id, outcome, principal.name)
    print_outcome(outcome)
    return outcome


def click(
    flow_id: Annotated[str, typer.Argument(help="The run id (see 'flowdeck runs').")],
    title: Annotated[str, typer.Argument(help="The title (or id) of the button, rich text or infographic.")],
    user: Annotated[str | None, typer.Option("--user", "-u", help="Who clicks.")] = None,
    input_data: Annotated[
        str | None, typer.Option("--input", help="JSON object handed to the callback (e.g. a table row).")
    ] = None,
) -> None:
    """Click an element of the run's current page: prints the message, the drilldown card, or what changed."""
    data = None
    if input_data is not None:
        try:
            data = json.loads(input_data)
        except ValueError as exc:
            fail(f"--input takes a JSON object, e.g. '{{\"row\": 17}}': {exc}", 2)
        if not isinstance(data, dict):
            fail(f"--input takes a JSON object, e.g. '{{\"row\": 17}}', got {input_data!r}", 2)
    fire_and_show(flow_id, user, "click", title, input_data=data)


def register(app: typer.Typer) -> None:
    """Add ``click`` to ``app``."""
    app.command("click")(click)
