"""Apps that carry their trigger: registering a SingletonApp sets its trigger up, in one transaction.

``flowdeck.register_flow`` is :func:`register_flow` here: it registers any flow (see
:func:`flowdeck.flow.registry.register_flow`) and, for a
:class:`~flowdeck.flow.model.SingletonApp` with a ``trigger``, configures that trigger for the app
and stores it in the transaction that stores the registration (both or neither).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowdeck.auth.users import Principal, resolve_principal
from flowdeck.errors import ValidationError
from flowdeck.flow.model import Flow, SingletonApp
from flowdeck.flow.registry import RegisteredFlowInfo, put_registration, resolve_registration
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import triggers as records
from flowdeck.triggers.base import Trigger
from flowdeck.triggers.service import save_trigger_in

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["register_flow"]


def register_flow(flow: Flow | str, registered_by: str | None = None) -> RegisteredFlowInfo:
    """Register ``flow`` (a Flow, a flow file ``path.py[:attr]`` or a module ``pkg.mod[:attr]``) by its name.

    Registering a name again points it at the new definition. A Flow must be defined at module
    level of an importable module or a .py file, so that other processes can load it.

    A :class:`~flowdeck.flow.model.SingletonApp` with a ``trigger`` has it set up too: configured
    with ``app_id`` = the app's name and ``user_id`` = the trigger's own ``user_id``, else
    ``registered_by``, else the owner of the trigger stored under that name already, else the
    deployment's only user; and stored active in the transaction that stores the registration
    (both or neither). A trigger stored already keeps its state and its active/paused flag (its
    definition is replaced). ``ValidationError`` when the trigger is configured for another flow,
    or its name is taken by another flow's trigger.
    """
    flow, ref = resolve_registration(flow)
    app_trigger = _set_up_app_trigger(flow, registered_by)  # configured and its owner resolved: nothing written
    with get_storage().db.write() as conn:
        if app_trigger is not None:
            _check_trigger_name_free(conn, app_trigger[0], flow.name)
        info = put_registration(conn, flow, ref, registered_by)
        if app_trigger is not None:
            save_trigger_in(conn, *app_trigger, active=None)  # a paused trigger stays paused
    return info


def _set_up_app_trigger(flow: Flow, registered_by: str | None) -> tuple[Trigger, Principal] | None:
    """The trigger of a SingletonApp ``flow``, configured for it, with the user it acts for; else None.

    Writes nothing but a first-seen user name (as ``resolve_principal`` does). A trigger the flow
    writer left unconfigured is configured here (keeping what was given: its ``user_id``,
    ``flow_id``, inputs); registering the app again configures it again, so the user registering
    it then counts. One the flow writer configured for this app is left as it is.
    """
    if not isinstance(flow, SingletonApp) or flow.trigger is None:
        return None
    trigger = flow.trigger
    if not isinstance(trigger, Trigger):
        raise ValidationError(
            f"SingletonApp {flow.name!r} has trigger={type(trigger).__name__!r}; pass a flowdeck trigger "
            "(AssetTrigger, S3Trigger, PostgresTrigger, ScheduleTrigger, CompositeTrigger)"
        )
    set_up = flow._configured_trigger
    if set_up is None or set_up[0] is not trigger:
        if trigger.app_id is not None and trigger.app_id != flow.name:
            raise ValidationError(
                f"trigger {trigger.name!r} of SingletonApp {flow.name!r} is configured for flow {trigger.app_id!r}; "
                f"an app's trigger starts that app: leave it unconfigured (registering {flow.name!r} configures "
                f"it) or configure it with app_id={flow.name!r}"
            )
        set_up = (trigger, trigger.user_id) if trigger.app_id is None else None
        flow._configured_trigger = set_up
    ours = set_up is not None  # configured by registering this app, not by the flow writer
    own_user = set_up[1] if set_up is not None else trigger.user_id

    def configure(user_id: str | None) -> None:
        trigger.configure(
            app_id=flow.name, flow_id=trigger.flow_id, user_id=user_id, input_parameters=trigger.input_parameters
        )

    if ours or trigger.name is None:
        configure(own_user)  # names an unnamed trigger
    user = own_user or registered_by
    if user is None:
        with get_storage().db.read() as conn:
            stored = records.get_trigger(conn, trigger.name)
        if stored is not None and stored.flow_name == flow.name:
            user = stored.owner  # registered again by nobody in particular (`flowdeck serve`): keep its owner
    try:
        owner = resolve_principal(user)
    except ValidationError as exc:
        if user is not None:
            raise
        raise ValidationError(
            f"trigger {trigger.name!r} of SingletonApp {flow.name!r} needs a user to act for, and this deployment "
            "has several users: register the app as one (flowdeck.register_flow(app, registered_by=USER), "
            "`flowdeck flows add PATH --user USER`) or configure the trigger with user_id=USER"
        ) from exc
    if ours:
        configure(owner.name)
    return trigger, owner


def _check_trigger_name_free(conn: Connection, trigger: Trigger, app_name: str) -> None:
    """``ValidationError`` when another flow's trigger is stored under ``trigger``'s name."""
    stored = records.get_trigger(conn, trigger.name)
    if stored is not None and stored.flow_name != app_name:
        raise ValidationError(
            f"a trigger named {trigger.name!r} is stored for flow {stored.flow_name!r}; give SingletonApp "
            f"{app_name!r}'s trigger another name= (or remove the other: `flowdeck triggers remove {trigger.name}`)"
        )
