"""The options every ``share`` and ``unshare`` command takes, and what they print.

One set of spellings for runs (``flowdeck share``), assets and connections:

- ``--user/-u NAME`` and ``--group/-g NAME`` (repeatable) name whom it is shared with (or no
  longer shared with); ``--with-user`` and ``--with-group`` are the same options.
- ``--as NAME`` names who acts: the owner or an admin (default: the only user).

``flowdeck connections share|unshare`` took ``--user/-u`` for who acts before ``--as`` existed;
there it keeps that meaning unless ``--as`` is given (see :func:`connection_parties`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from flowdeck.cli.common import console, esc, fail

__all__ = [
    "Acting",
    "ConnectionUser",
    "SharedGroups",
    "SharedUsers",
    "SharedWithUser",
    "UnsharedGroups",
    "UnsharedUsers",
    "UnsharedWithUser",
    "connection_parties",
    "print_shared",
    "require_whom",
]

SharedUsers = Annotated[
    list[str] | None,
    typer.Option("--user", "-u", "--with-user", help="A user to share with (repeatable).", show_default=False),
]
SharedGroups = Annotated[
    list[str] | None,
    typer.Option("--group", "-g", "--with-group", help="A group to share with (repeatable).", show_default=False),
]
UnsharedUsers = Annotated[
    list[str] | None,
    typer.Option("--user", "-u", "--with-user", help="A user to stop sharing with (repeatable).", show_default=False),
]
UnsharedGroups = Annotated[
    list[str] | None,
    typer.Option(
        "--group", "-g", "--with-group", help="A group to stop sharing with (repeatable).", show_default=False
    ),
]
Acting = Annotated[
    str | None,
    typer.Option("--as", help="Who acts: the owner or an admin (default: the only user).", show_default=False),
]

#: ``connections share|unshare``: ``--user/-u`` is who acts unless ``--as`` is given.
ConnectionUser = Annotated[
    list[str] | None,
    typer.Option(
        "--user",
        "-u",
        help="Who acts, as --as does (its older spelling here). Together with --as: a user, as --with-user "
        "(repeatable).",
        show_default=False,
    ),
]
#: ``connections share``: whom, whatever ``--user`` means in the command.
SharedWithUser = Annotated[
    list[str] | None, typer.Option("--with-user", help="A user to share with (repeatable).", show_default=False)
]
#: ``connections unshare``: whom, whatever ``--user`` means in the command.
UnsharedWithUser = Annotated[
    list[str] | None,
    typer.Option("--with-user", help="A user to stop sharing with (repeatable).", show_default=False),
]


def require_whom(users: list[str] | None, groups: list[str] | None, *, revoke: bool, how: str) -> None:
    """A usage error (exit code 2) when neither a user nor a group was named; ``how`` says how to name them."""
    if not users and not groups:
        fail(f"say whom to {'stop sharing' if revoke else 'share'} with: {how}", 2)


def connection_parties(
    user: list[str] | None, with_user: list[str] | None, acting: str | None
) -> tuple[str | None, list[str]]:
    """Who acts and which users are named, from ``connections share|unshare``'s options.

    Without ``--as``, ``--user`` keeps its older meaning there, who acts (so it may be given once),
    and the users come from ``--with-user``; with ``--as``, ``--user`` names users as ``--with-user``
    does, the same as in ``flowdeck share`` and ``flowdeck assets share``.
    """
    if acting is not None:
        return acting, [*(user or []), *(with_user or [])]
    if user and len(user) > 1:
        fail(
            "--user names who acts here unless --as is given: give it once, and name the users to share with "
            "with --with-user NAME (or say who acts with --as NAME and name them with --user NAME)",
            2,
        )
    return (user[0] if user else None), list(with_user or [])


def print_shared(kind: str, ident: str, users: list[str], groups: list[str], *, revoke: bool) -> None:
    """``shared run ID with user bob, group analysts`` (or ``stopped sharing ...``)."""
    whom = ", ".join([f"user {u}" for u in users] + [f"group {g}" for g in groups])
    console.print(f"{'stopped sharing' if revoke else 'shared'} {kind} {esc(ident)} with {esc(whom)}", highlight=False)
