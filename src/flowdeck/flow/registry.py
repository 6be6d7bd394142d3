"""The flow registry: flows by name, stored in the database so every process finds them.

A registration keeps where the flow is defined (``module:attr`` or ``/path/file.py:attr``, the same
reference runs record), never the flow object, so any process or worker can load it again.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowdeck.errors import NotFoundError, ValidationError
from flowdeck.flow.loader import flow_reference, load_flow, load_flow_file
from flowdeck.flow.model import Flow
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import flows as flow_records

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = [
    "RegisteredFlowInfo",
    "get_registered_flow",
    "list_registered_flows",
    "load_registered_flow",
    "origins_of",
    "put_registration",
    "record_origin",
    "record_origin_in",
    "register_flow",
    "resolve_registration",
    "resolve_spec",
    "unregister_flow",
]


@dataclass(frozen=True)
class RegisteredFlowInfo:
    """A registered flow: its name, where it is defined, and who registered it."""

    name: str
    ref: str
    description: str | None
    registered_by: str | None


def resolve_spec(spec: str) -> tuple[Flow, str]:
    """Load ``path/to/file.py[:attr]`` or ``package.module[:attr]``; returns the flow and its reference."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValidationError("a flow is named by a file (flows/churn.py[:attr]) or a module (pkg.mod[:attr])")
    spec = spec.strip()
    target = spec.rsplit(":", 1)[0] if ":" in spec else spec
    if target.endswith(".py") or "/" in target:
        return load_flow_file(spec)
    if ":" in spec:
        return load_flow(spec), spec
    try:
        module = importlib.import_module(spec)
    except Exception as exc:
        raise ValidationError(f"flow module {spec!r} failed to import: {type(exc).__name__}: {exc}") from exc
    found = {id(v): (a, v) for a, v in vars(module).items() if isinstance(v, Flow) and not a.startswith("_")}
    if len(found) != 1:
        names = sorted(a for a, _ in found.values())
        raise ValidationError(f"module {spec!r} defines {len(found)} flows {names}; name one as MODULE:ATTRIBUTE")
    attr, _ = next(iter(found.values()))
    ref = f"{spec}:{attr}"
    return load_flow(ref), ref


def register_flow(flow: Flow | str, registered_by: str | None = None) -> RegisteredFlowInfo:
    """Register ``flow`` (a Flow, a flow file ``path.py[:attr]`` or a module ``pkg.mod[:attr]``) by its name.

    Registering a name again points it at the new definition. A Flow must be defined at module
    level of an importable module or a .py file, so that other processes can load it. This stores
    the registration alone: ``flowdeck.register_flow`` (:func:`flowdeck.triggers.apps.register_flow`)
    also sets up the trigger of a :class:`~flowdeck.flow.model.SingletonApp`.
    """
    flow, ref = resolve_registration(flow)
    with get_storage().db.write() as conn:
        return put_registration(conn, flow, ref, registered_by)


def resolve_registration(flow: Flow | str) -> tuple[Flow, str]:
    """The Flow to register and where other processes load it from (its reference); nothing is written.

    ``flow`` is a Flow defined at module level, a flow file ``path.py[:attr]`` or a module
    ``pkg.mod[:attr]``. ``ValidationError`` when it cannot be loaded elsewhere or has no steps.
    """
    if isinstance(flow, Flow):
        ref = flow_reference(flow)
        if ref is None:
            raise ValidationError(
                f"flow {flow.name!r} is not defined at module level of an importable module or a .py file, "
                "so other processes could not load it; move it to module level or register the file path"
            )
    elif isinstance(flow, str):
        flow, ref = resolve_spec(flow)
    else:
        raise ValidationError(f"register_flow() takes a Flow or a flow file/module, got {type(flow).__name__}")
    if not flow.steps:
        raise ValidationError(f"flow {flow.name!r} has no steps; chain at least one step before registering it")
    return flow, ref


def put_registration(conn: Connection, flow: Flow, ref: str, registered_by: str | None) -> RegisteredFlowInfo:
    """Store the registration of ``flow`` (loaded from ``ref``) in the caller's write transaction."""
    flow_records.put_flow(conn, flow.name, ref, flow.description or None, registered_by)
    return RegisteredFlowInfo(flow.name, ref, flow.description or None, registered_by)


def get_registered_flow(name: str) -> RegisteredFlowInfo:
    """The registration of flow ``name``; ``NotFoundError`` naming the registered flows otherwise."""
    with get_storage().db.read() as conn:
        row = flow_records.get_flow(conn, name)
        if row is None:
            names = [r.name for r in flow_records.list_flows(conn)]
    if row is None:
        raise NotFoundError(
            f"no registered flow {name!r}; registered flows are {names}. "
            "Register it with flowdeck.register_flow(flow) or `flowdeck flows add PATH`"
        )
    return RegisteredFlowInfo(row.name, row.ref, row.description, row.registered_by)


def load_registered_flow(name: str) -> Flow:
    """The Flow registered as ``name``, loaded from where it is defined."""
    info = get_registered_flow(name)
    flow = load_flow(info.ref)
    if flow.name != name:
        raise ValidationError(
            f"flow {name!r} is registered at {info.ref}, which now defines flow {flow.name!r}; "
            "register it again with `flowdeck flows add`"
        )
    return flow


def list_registered_flows() -> list[RegisteredFlowInfo]:
    """Every registered flow, by name."""
    with get_storage().db.read() as conn:
        rows = flow_records.list_flows(conn)
    return [RegisteredFlowInfo(r.name, r.ref, r.description, r.registered_by) for r in rows]


def unregister_flow(name: str) -> None:
    """Forget flow ``name`` (its runs stay); ``NotFoundError`` when it is not registered."""
    with get_storage().db.write() as conn:
        removed = flow_records.delete_flow(conn, name)
    if not removed:
        raise NotFoundError(f"no registered flow {name!r}; see `flowdeck flows list`")


def record_origin(run_id: str, started_by: str) -> None:
    """Record who or what started run ``run_id`` (e.g. ``"api:alice"``, ``"trigger:nightly"``)."""
    with get_storage().db.write() as conn:
        flow_records.set_origin(conn, run_id, started_by)


def record_origin_in(conn: Connection, run_id: str, started_by: str) -> None:
    """:func:`record_origin` inside a transaction the caller holds (the one that records the run)."""
    flow_records.set_origin(conn, run_id, started_by)


def origins_of(run_ids: list[str]) -> dict[str, str]:
    """``run_id → started_by`` for the runs that have a record (runs started by a person have none)."""
    with get_storage().db.read() as conn:
        return flow_records.origins_of(conn, list(run_ids))
