"""The services: what flowdeck does with what it stores (runs, pages, outputs, assets, connections...).

Importing any of them gives elements what they look up through the services: a
:class:`~flowdeck.elements.DataSourceDropdown` lists the user's connections through the connection
service, loaded on first use (elements import nothing of the services themselves).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flowdeck.elements.inputs import register_connection_lister


def _list_connections(user: str) -> Iterable[Any]:
    from flowdeck.store.connections import list_connections

    return list_connections(user)


register_connection_lister(_list_connections)
