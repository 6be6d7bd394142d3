"""What one callback reads once and keeps while it runs: the run, the acting user and the step's page.

A callback (:mod:`flowdeck.flow.callbacks`) claims its run and reads the page in one transaction,
then runs in a :class:`CallbackScope`. Every ``StoreInterface`` of that run and user made in the
callback's thread uses the scope's run view instead of loading the run again (the claim keeps the
run and its steps as they are), and its ``get_page``/``update_page`` work on the scope's page in
memory: the newest page is stored once, in the transaction that ends the callback. Any other store
call first stores the page pending (so that whatever it reads from the database is current); reads
that bypass the callback's stores (another run's handle, the REST API) see the page as stored.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flowdeck.auth.users import Principal
from flowdeck.store import outputs as output_service
from flowdeck.store import pages as page_service
from flowdeck.store.runs import RunView

if TYPE_CHECKING:
    from flowdeck.page import Page

__all__ = ["CallbackScope", "current_scope", "entered", "scope_for"]

_local = threading.local()


class CallbackScope:
    """One callback's run view, acting user and page (the newest version, maybe not stored yet)."""

    def __init__(self, view: RunView, who: Principal, step_name: str, token: str, document: str) -> None:
        """The scope of the callback holding claim ``token`` on ``view``'s step ``step_name``.

        ``document`` is the JSON text of the step's page as the claim read it.
        """
        self.view = view
        self.who = who
        self.step_name = step_name
        self.token = token
        self.document = document
        self.pending: page_service.PageText | None = None
        self.stored_any = False
        #: Where the run's outputs stood before the callback's first ``save_output`` (None: it saved none).
        self.outputs_before: int | None = None
        self._page: Page | None = None

    @property
    def flow_id(self) -> str:
        """The run's id."""
        return self.view.id

    def saving_output(self) -> None:
        """Note where the run's outputs stand before the callback's first ``save_output`` (undone if it fails)."""
        if self.outputs_before is None:
            self.outputs_before = output_service.last_output_id(self.flow_id)

    def page(self) -> Page:
        """The step's newest page, to change and hand to :meth:`save` (built from JSON once per save)."""
        page, self._page = self._page, None
        return page if page is not None else page_service.parse_page(self.document, self.view, self.step_name)

    def keep(self, page: Page) -> None:
        """Keep ``page``, unchanged since :meth:`page` gave it, for the next :meth:`page` call."""
        self._page = page

    def save(self, page: Page, *, check: bool = True) -> None:
        """Make ``page`` the step's newest page (stored when the callback ends, or before another store call)."""
        self.pending = page_service.page_text(page, check=check)
        self.document = self.pending.text
        self._page = None

    def flush(self) -> None:
        """Store the pending page now (another store call is about to read the database)."""
        if self.pending is not None:
            page_service.store_page_text(self.view, self.step_name, self.pending, self.token)
            self.pending = None
            self.stored_any = True

    def reload(self) -> None:
        """Read the step's page again (after a store call that changed it in the database)."""
        self.flush()
        self.document = page_service.page_document(self.view, self.step_name)
        self._page = None
        self.stored_any = True

    def document_json(self) -> dict[str, Any]:
        """The newest page's JSON."""
        return json.loads(self.document)

    def matches(self, flow_id: str, user: str | None) -> bool:
        """Whether a store of run ``flow_id`` for ``user`` is this callback's."""
        return flow_id == self.view.id and user == self.who.name


def current_scope() -> CallbackScope | None:
    """The scope of the callback running in this thread, if any."""
    return getattr(_local, "scope", None)


def scope_for(flow_id: str, user: str | None) -> CallbackScope | None:
    """The scope of the callback running in this thread when it is ``user``'s on run ``flow_id``."""
    scope = current_scope()
    return scope if scope is not None and scope.matches(flow_id, user) else None


@contextmanager
def entered(scope: CallbackScope) -> Iterator[CallbackScope]:
    """Run the block in ``scope`` (this thread only)."""
    previous = current_scope()
    _local.scope = scope
    try:
        yield scope
    finally:
        _local.scope = previous
