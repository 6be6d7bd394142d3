"""What clients see of callbacks: page, card and element JSON without where the callbacks' code lives.

A function callback is stored on its page by reference (:class:`~flowdeck.elements.callbacks.CallbackRef`:
its module, qualified name and, for a flow loaded from a file, the file's path). The server needs
that to run it; a browser or API client only needs to know that a callback is there, its kind and
what its decorator declared. Every page, card and element document the server sends goes through
:func:`client_text` (or :func:`client_response`), which turns each reference into the marker
``{"callback_type": "function", "meta": {...}}``. Callbacks are fired by element id and event
kind, so no client ever needs, or sends back, a reference.

A table's row action given without ``row_action_callback`` (so without a title) is shown, and
chosen, by its function's name: its marker keeps that name (the last part of the qualified name)
as ``title``.

Pages are read on every refresh and sent as stored, without being decoded. The redaction keeps
that: it finds the references in the JSON text (a string search) and reads only them, so it costs
a scan of the text, not a decode and encode of the whole page (tables included); and
:func:`client_page` keeps the client text of each step's page, so a page is scanned once per
version, not on every refresh.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from fastapi import Response

__all__ = ["client_document", "client_page", "client_response", "client_text"]

#: How a stored reference begins: ``CallbackRef.to_json()`` written compactly, as pages are stored
#: and responses written. The marker keeps the head and the ``meta`` that follows the cut fields.
_HEAD = '{"callback_type":"function",'
_OPENING = _HEAD + '"module":'
_HEAD_CHARS, _OPENING_CHARS = len(_HEAD), len(_OPENING)
#: The key every reference has, and no text sent to a client may keep.
_KEY = '"qualname":'
_KEY_CHARS = len(_KEY)
#: How far before its qualname a reference's opening is looked for (the module name's JSON included).
_MODULE_CHARS = 2048
_ROW_ACTIONS = '"row_actions":['
#: How far before a drilldown its table's ``row_actions`` key is looked for.
_ROW_ACTIONS_CHARS = 100_000
_DRILLDOWN_META = '"meta":{"callback_type":"drilldown"'
_scan_string = json.decoder.scanstring
_DECODER = json.JSONDecoder()


def _is_reference(value: Any) -> bool:
    return isinstance(value, dict) and value.get("callback_type") == "function" and "qualname" in value


def _short_name(qualname: Any) -> str:
    return str(qualname or "").rpartition(".")[2]


def _marker(reference: dict[str, Any], *, row_action: bool = False) -> dict[str, Any]:
    """The marker a client gets for a stored reference: kind and declared metadata only."""
    meta = reference.get("meta")
    marker: dict[str, Any] = {"callback_type": "function"}
    if row_action and not (isinstance(meta, dict) and meta.get("row_action_title")):
        marker["title"] = _short_name(reference.get("qualname"))
    marker["meta"] = dict(meta) if isinstance(meta, dict) else {}
    return marker


def client_document(document: Any) -> Any:
    """``document`` (decoded JSON) with every callback reference replaced by its marker (a copy)."""
    return _redacted(document, row_actions=False)


def _redacted(document: Any, *, row_actions: bool) -> Any:
    if isinstance(document, dict):
        if _is_reference(document):
            return _marker(document, row_action=row_actions)
        return {key: _redacted(value, row_actions=key == "row_actions") for key, value in document.items()}
    if isinstance(document, list):
        return [_redacted(item, row_actions=row_actions) for item in document]
    return document


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _in_row_actions(text: str, start: int) -> bool:
    """Whether the object at ``start`` is an item of a ``row_actions`` array."""
    before = text[start - 1]
    if before == "[":
        return text.endswith(_ROW_ACTIONS, 0, start)
    opening = text.rfind(_ROW_ACTIONS, max(0, start - _ROW_ACTIONS_CHARS), start) if before == "," else -1
    if opening <= 0 or text[opening - 1] not in "{,":
        return False
    try:  # the items before it, if it is an item of this array
        json.loads("[" + text[opening + len(_ROW_ACTIONS) : start - 1] + "]")
    except ValueError:
        return False
    return True


def _cut(text: str, key: int) -> tuple[int, int, str] | None:
    """What to cut out of the reference whose ``"qualname":`` key is at ``key``: (start, end, what to put
    there instead); None when the key is not in a reference written as ``CallbackRef.to_json()`` is.

    Each part is read as JSON is: the opening is an object's start (after ``{`` a quote is never inside
    a string), and each string is scanned to its closing quote.
    """
    start = text.rfind(_OPENING, max(0, key - _OPENING_CHARS - _MODULE_CHARS), key)
    at = start + _OPENING_CHARS
    if start < 0 or text[at] != '"' or _scan_string(text, at + 1)[1] != key - 1 or text[key - 1] != ",":
        return None
    at = key + _KEY_CHARS
    if text[at] != '"':
        return None
    qualname, at = _scan_string(text, at + 1)
    if not text.startswith(',"file":', at):
        return None
    at += 8  # ,"file":
    if text.startswith("null", at):
        at += 4
    elif text[at] == '"':
        at = _scan_string(text, at + 1)[1]
    else:
        return None
    if not text.startswith(',"meta":', at):
        return None
    instead = ""
    if text.startswith(_DRILLDOWN_META, at + 1):  # a drilldown: a row action without a title keeps its name
        meta = _DECODER.raw_decode(text, at + 8)[0]
        if not (isinstance(meta, dict) and meta.get("row_action_title")) and _in_row_actions(text, start):
            instead = '"title":' + _dumps(_short_name(qualname)) + ","
    return start + _HEAD_CHARS, at + 1, instead


def client_text(text: str) -> str:
    """The JSON text ``text`` (a page, a card, an element, an outcome) as a client may read it.

    Each callback reference becomes its marker; the rest of the text is kept as it is. Text with
    a reference in another form (not compact, keys in another order), or a ``"qualname"`` key of
    its own, is decoded, redacted and encoded again: nothing sent holds a reference.
    """
    pieces: list[str] = []
    done = 0
    key = text.find(_KEY)
    while key >= 0:
        try:
            cut = _cut(text, key)
        except (ValueError, IndexError):
            cut = None
        if cut is None or cut[0] < done:
            return _dumps(client_document(json.loads(text)))
        start, end, instead = cut
        pieces += [text[done:start], instead]
        done = end
        key = text.find(_KEY, end)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def client_response(content: Any, status_code: int = 200) -> Response:
    """A JSON response of ``content`` (a dict holding page, card or element JSON) as a client may read it."""
    return Response(client_text(_dumps(content)), status_code=status_code, media_type="application/json")


#: At most this many characters of pages (stored and client text) are kept by :func:`client_page`.
KEEP_CHARS = 32 * 2**20
#: The page each step sent last: (run id, step) → (its stored text, its client text).
_pages: OrderedDict[tuple[str, str], tuple[str, str]] = OrderedDict()
_kept_chars = 0
_pages_lock = threading.Lock()


def _chars(texts: tuple[str, str]) -> int:
    return len(texts[0]) + (len(texts[1]) if texts[1] is not texts[0] else 0)


def client_page(run_id: str, step_name: str, text: str) -> str:
    """:func:`client_text` of a step's stored page text, redacted once per page version in this process.

    A page is sent on every refresh and changes far less often: the client text of the text sent
    last for the step is kept, and used again while the stored text is the same (compared in full,
    which costs a small fraction of a scan).
    """
    global _kept_chars
    key = (run_id, step_name)
    with _pages_lock:
        kept = _pages.get(key)
        if kept is not None:
            _pages.move_to_end(key)
    if kept is not None and kept[0] == text:
        return kept[1]
    client = client_text(text)
    with _pages_lock:
        old = _pages.pop(key, None)
        if old is not None:
            _kept_chars -= _chars(old)
        if _chars((text, client)) <= KEEP_CHARS // 4:
            _pages[key] = (text, client)
            _kept_chars += _chars((text, client))
            while _kept_chars > KEEP_CHARS:
                _kept_chars -= _chars(_pages.popitem(last=False)[1])
    return client
