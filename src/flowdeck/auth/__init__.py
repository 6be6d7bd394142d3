"""Users, groups, roles and the access checks every read and write goes through."""

from flowdeck.auth.users import Principal, add_user, list_users, resolve_principal, update_user

__all__ = ["Principal", "add_user", "list_users", "resolve_principal", "update_user"]
