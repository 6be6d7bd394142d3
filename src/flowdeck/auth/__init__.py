"""Users, groups, roles and the access checks every read and write goes through.

The names below load on first use, so that importing one module of this package (``auth.keys``
from the storage layer, say) does not import the others and the storage they use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["Principal", "add_user", "list_users", "resolve_principal", "update_user"]

if TYPE_CHECKING:
    from flowdeck.auth.users import Principal, add_user, list_users, resolve_principal, update_user


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("flowdeck.auth.users"), name)
    raise AttributeError(f"module 'flowdeck.auth' has no attribute {name!r}")
