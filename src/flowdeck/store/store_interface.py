"""``StoreInterface``: the flow writer's one handle on everything a flow stores.

A thin facade: it checks arguments and who is asking, then delegates to the services in
``flowdeck.store``. Its names, parameters and defaults follow the platform's API reference.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowdeck.auth.users import Principal, peek_principal, resolve_principal
from flowdeck.elements.inputs import DataSource
from flowdeck.errors import FlowdeckError, NotFoundError, ValidationError
from flowdeck.store import callback_scope, lifecycle
from flowdeck.store import outputs as output_service
from flowdeck.store import pages as page_service
from flowdeck.store import progress as progress_service
from flowdeck.store import runs as run_service
from flowdeck.store.status import FlowStatus

if TYPE_CHECKING:
    import pandas as pd

    from flowdeck.assets import Asset, AssetPersistenceMethod, AssetType
    from flowdeck.elements import Element
    from flowdeck.page import Card, Page
    from flowdeck.storage.connection_urls import ConnectionType

__all__ = ["StoreInterface", "UserDetails"]

# The keyword arguments of get_boto3_s3_client_from_connection_store that change the client
# without changing whose credentials or which endpoint it uses.
_S3_CLIENT_KWARGS = ("region_name",)


# The attribute get_page() marks a page with: the (run id, step name) it was read from.
_PAGE_SOURCE = "_flowdeck_page_source"


def _page_of_step(page: Page, flow_id: str, step_name: str) -> Page:
    """``page``, marked as read from step ``step_name`` of run ``flow_id``."""
    setattr(page, _PAGE_SOURCE, (flow_id, step_name))
    return page


def _check_own_page(page: object, flow_id: str, step_name: str) -> None:
    """``ValidationError`` when ``page`` was read from another step of this run: it is not this step's page."""
    source = getattr(page, _PAGE_SOURCE, None)
    if source is not None and source[0] == flow_id and source[1] != step_name:
        raise ValidationError(
            f"update_page(): this is the page of step {source[1]!r} (read with get_page() for that step), "
            f"not of step {step_name!r}; a step stores only its own page: start from store.get_page() of "
            f"step {step_name!r}, or build a new Page"
        )


class _StoreOrStepMethod(staticmethod):
    """A static method that, read from a store, acts for that store.

    The SDK declares ``update_progress`` static (it reports for the step whose code is running); the
    reference page calls it on a store. The wrapped function takes the store, or ``None`` when called
    on the class.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        signature = inspect.signature(func)
        public = signature.replace(parameters=list(signature.parameters.values())[1:])
        if inspect.iscoroutinefunction(func):

            async def unbound(*args: Any, **kwargs: Any) -> Any:
                return await func(None, *args, **kwargs)

        else:

            def unbound(*args: Any, **kwargs: Any) -> Any:
                return func(None, *args, **kwargs)

        functools.update_wrapper(unbound, func)
        unbound.__signature__ = public  # type: ignore[attr-defined]
        super().__init__(unbound)
        self._func = func
        self._public = public

    def __get__(self, store: object, owner: type | None = None) -> Callable[..., Any]:
        if store is None:
            return self.__func__
        bound = functools.partial(self._func, store)
        functools.update_wrapper(bound, self._func)
        bound.__signature__ = self._public  # type: ignore[attr-defined]
        return bound


class UserDetails(tuple):
    """The acting user's ``(role, groups)``, as the SDK returns them, with ``name`` as an attribute."""

    name: str

    def __new__(cls, name: str, role: str, groups: list[str]) -> UserDetails:
        """Build ``(role, groups)`` for the user ``name``."""
        details = super().__new__(cls, (role, list(groups)))
        details.name = name
        return details

    @property
    def role(self) -> str:
        """The user's role (``user`` or ``admin``)."""
        return self[0]

    @property
    def groups(self) -> list[str]:
        """The names of the groups the user belongs to."""
        return self[1]


class StoreInterface:
    """The flow writer's handle on a run's stored data: outputs, pages, assets, connections, progress.

    ``StoreInterface(**flow_metadata)`` inside a step acts for that step. ``flow_id`` is the run id;
    an unknown id, or one the user may not see, is a ``NotFoundError``. ``step_name=None`` means the
    run's current step at the time of each call. ``user=None`` is allowed only while the deployment has
    a single user.
    """

    def __init__(
        self,
        flow_id: str,
        user: str | None = None,
        step_name: str | None = None,
        is_action: bool = False,
        bucket_name: str | None = None,
        profile_name: str = "govcloud",
    ) -> None:
        self.flow_id = flow_id
        self.step_name = step_name
        self.is_action = bool(is_action)
        self.bucket_name = bucket_name
        self.profile_name = profile_name
        scope = callback_scope.scope_for(flow_id, user)
        if scope is not None:  # inside this user's callback on the run: the run was read with its claim
            if step_name is not None:
                scope.view.step(step_name)
            self._principal = scope.who
            self.user = scope.who.name
            return
        # The run and step are checked before a first-seen user name is registered, so that a
        # failing StoreInterface(...) leaves no trace.
        self._principal: Principal = peek_principal(user)
        view = run_service.load_run(flow_id, self._principal)
        if step_name is not None:
            view.step(step_name)
        self._principal = resolve_principal(user)
        self.user = self._principal.name

    def __repr__(self) -> str:
        return f"StoreInterface(flow_id={self.flow_id!r}, user={self.user!r}, step_name={self.step_name!r})"

    # --- helpers -----------------------------------------------------------------------------

    def _scope(self) -> callback_scope.CallbackScope | None:
        return callback_scope.scope_for(self.flow_id, self.user)

    def _view(self) -> run_service.RunView:
        scope = self._scope()
        if scope is not None:  # the claim keeps the run as the callback read it; the page is stored first
            scope.flush()
            lifecycle.check_cancelled(self.flow_id)
            return scope.view
        view = run_service.load_run(self.flow_id, self._principal)
        # Inside a step whose action was cancelled, any store call stops the step here.
        lifecycle.check_cancelled(self.flow_id, view.run.action_token)
        return view

    def _step(self, view: run_service.RunView, step_name: str | None = None) -> str:
        name = step_name or self.step_name or view.current_step
        if name is None:
            raise run_service.no_current_step(self.flow_id, "act on")
        view.step(name)
        return name

    # --- outputs -----------------------------------------------------------------------------

    def save_output(self, data: Any, name: str) -> None:
        """Save a value under ``name`` for later steps (saving a name again replaces it; history kept).

        DataFrames and Series are stored as Arrow, JSON-like values as JSON, bytes raw, numpy arrays
        as ``.npy`` and any other picklable object as a signed pickle. A value that cannot be stored
        raises ``ValueError`` naming its type.
        """
        # Inside a step whose action was cancelled, nothing more is saved: the step stops here.
        lifecycle.check_cancelled(self.flow_id)
        scope = self._scope()
        if scope is not None:  # in a callback: what it saves is dropped again if it raises
            scope.saving_output()
        output_service.save_output(self.flow_id, self.step_name, data, name)

    def get_input(
        self,
        name: str,
        step_name: str | None = None,
        *,
        columns: list[str] | None = None,
        rows: slice | tuple[int | None, int | None] | None = None,
        zero_copy: bool = False,
    ) -> Any:
        """A value saved by an earlier step (the nearest wins), or by ``step_name`` when given.

        Raises ``ValueError`` (``NotFoundError``) listing the names that exist when ``name`` is missing.
        For a DataFrame (or Series, ``rows`` only): ``columns`` reads only those columns, ``rows`` (a
        slice or ``(start, stop)``) only that range of rows, each equal to the same selection of the
        whole frame; ``zero_copy=True`` returns ``pd.ArrowDtype`` columns backed by a read-only memory
        map of the stored blob instead of the exact dtypes.
        """
        # The run and the output are read in one transaction.
        return output_service.read_input(
            self.flow_id,
            self._principal,
            name,
            step_name=step_name,
            reader_step=self.step_name,
            check=lambda view: lifecycle.check_cancelled(self.flow_id, view.run.action_token),
            columns=columns,
            rows=rows,
            zero_copy=zero_copy,
        )

    def has_input(self, name: str) -> bool:
        """Whether ``name`` is in this step's in-link."""
        view = self._view()
        reader = self.step_name or view.current_step
        return output_service.has_output(view, name, reader_step=reader)

    # --- pages and elements ------------------------------------------------------------------

    def get_page(self, _out_link: Any = None) -> Page:
        """The newest version of this step's page.

        ``_out_link`` is accepted for the SDK's signature and not needed: flowdeck reads the page directly.
        """
        scope = self._scope()
        if scope is not None and self._step(scope.view) == scope.step_name:
            lifecycle.check_cancelled(self.flow_id)
            return _page_of_step(scope.page(), self.flow_id, scope.step_name)
        view = self._view()
        name = self._step(view)
        return _page_of_step(page_service.get_page(view, name), self.flow_id, name)

    def update_page(self, page: Page) -> None:
        """Store ``page`` as this step's page (input titles must be unique, else ``ValueError``).

        A page read with ``get_page()`` of another step is refused (``ValidationError``), and so is a
        step that has not run yet (``StepStateError``: it starts from its initial page when it runs).
        """
        scope = self._scope()
        if scope is not None and self._step(scope.view) == scope.step_name:
            lifecycle.check_cancelled(self.flow_id)
            _check_own_page(page, self.flow_id, scope.step_name)
            scope.save(page)
            return
        view = self._view()
        name = self._step(view)
        _check_own_page(page, self.flow_id, name)
        page_service.update_page(view, name, page)

    def inject_json_element(self, card: Card, element_json: dict[str, Any], element_id: str | None = None) -> Element:
        """Build an element from its JSON (``Element.to_json()``'s form) and add it to ``card``; returns it.

        ``element_id`` replaces the JSON's ``id``. The element is added to ``card`` itself, so a later
        ``update_page`` stores it; when this step's stored page already holds a card with ``card``'s id,
        the element is added there and stored at once too.
        """
        from flowdeck.elements import Element

        if not isinstance(element_json, dict):
            raise ValidationError(f"element_json must be a dict (an element's JSON), got {type(element_json).__name__}")
        element = Element.from_json(element_json)
        if element_id is not None:
            element.id = element_id
        card.add_content(element)
        view = self._view()
        step_name = self._step(view)
        stored = page_service.get_page(view, step_name)
        stored_card = next((c for c in stored.cards if c.id == card.id), None)
        if stored_card is not None and all(e.id != element.id for e in stored_card.get_elements()):
            stored_card.add_content(Element.from_json(element.to_json()))
            page_service.update_page(view, step_name, stored)
        return element

    @staticmethod
    def extract_context_from_page(page: Page) -> dict[str, list[dict[str, Any]]]:
        """A JSON-safe summary of a page: each element's ``extract_context()``, grouped by element type."""
        return page.get_element_data_grouped_by_type()

    def update_page_from_live_card(self, section_title: str, card_id: str, **step_clients: Any) -> None:
        """Not hosted: live cards are the vendor platform's; raises ``FlowdeckError`` saying what to use."""
        raise FlowdeckError(
            f"update_page_from_live_card(section {section_title!r}, card {card_id!r}) needs the vendor platform's "
            "live cards, which flowdeck does not host; change the page and call update_page(page) instead"
        )

    @staticmethod
    def _one_key(what: str, title: str | None, reference_id: str | None) -> tuple[str, bool]:
        """The lookup key and whether it is a reference id; exactly one of the two must be given."""
        if title is not None and reference_id is not None:
            raise ValidationError(f"pass {what}'s title or its reference_id, not both")
        if reference_id is not None:
            return reference_id, True
        if title is None:
            raise ValidationError(f"name the {what}: pass its title, or reference_id= (elem_reference_id=)")
        return title, False

    def get_element(
        self,
        step_name: str,
        elem_title: str | None = None,
        quiet: bool = False,
        *,
        elem_reference_id: str | None = None,
    ) -> Element | None:
        """An element of any step by its title, or by ``elem_reference_id=`` (None when missing and ``quiet``).

        A positional title that matches no element is tried as a reference id (the SDK's positional form).
        """
        key, by_reference = self._one_key("element", elem_title, elem_reference_id)
        return page_service.get_element(self._view(), step_name, key, quiet=quiet, by_reference_id=by_reference)

    def get_element_by_id(self, step_name: str, elem_id: str) -> Element:
        """An element of any step by its generated id."""
        return page_service.get_element(self._view(), step_name, elem_id, by_id=True)

    def get_element_value(
        self,
        step_name: str,
        elem_title: str | None = None,
        quiet: bool = False,
        *,
        elem_reference_id: str | None = None,
    ) -> Any:
        """The value of an input element found by title or ``elem_reference_id=``: DataSource → DataFrame
        (bytes when raw), Dropdown → selection, TextInput → str, NumericRange → (low, high), DateTimeRange →
        (start, end)."""
        key, by_reference = self._one_key("element", elem_title, elem_reference_id)
        return page_service.get_element_value(self._view(), step_name, key, quiet=quiet, by_reference_id=by_reference)

    def create_future_element(self, elem: Element, future_step_name: str) -> None:
        """Put ``elem`` on ``future_step_name``'s page when it runs; it is addressable before."""
        view = self._view()
        page_service.create_future_element(view, self._step(view), elem, future_step_name)

    def create_element_link(self, element: Element | str, step_name: str | None = None) -> str:
        """A stable link to an element of this or an earlier step, resolved by the UI."""
        view = self._view()
        current = self._step(view)
        return page_service.create_element_link(view, element, step_name, current)

    def get_current_step_user_input(
        self, data_source_title: str | None = None, *, data_source_reference_id: str | None = None
    ) -> io.BytesIO:
        """The bytes uploaded to a DataSource of the current step (by title or ``data_source_reference_id=``),
        before its action ran. Naming none reads the step's only DataSource."""
        if data_source_title is None and data_source_reference_id is None:
            view = self._view()
            name = self._step(view)
            element = page_service.sole_data_source(
                view,
                name,
                method="get_current_step_user_input",
                naming="data_source_title= or data_source_reference_id=",
                elsewhere="read another step's upload with get_raw_data_source_data(step_name=...)",
            )
            return self._uploaded_bytes(view, name, element)
        key, by_reference = self._one_key("DataSource", data_source_title, data_source_reference_id)
        if by_reference:
            return self.get_raw_data_source_data(elem_reference_id=key)
        return self.get_raw_data_source_data(element_title=key)

    def get_raw_data_source_data(
        self,
        step_name: str | None = None,
        element_id: str | None = None,
        element_title: str | None = None,
        elem_reference_id: str | None = None,
    ) -> io.BytesIO:
        """The bytes uploaded to a DataSource (by id, title or reference id) of ``step_name`` (default: this step).

        ``element_id`` and ``element_title`` together must name the same element (else a
        ``ValidationError`` naming both); ``elem_reference_id`` goes alone. Naming no element reads the
        step's only DataSource (a ``ValidationError`` when it has none or several).
        """
        if elem_reference_id is not None and (element_id is not None or element_title is not None):
            raise ValidationError(
                "get_raw_data_source_data(): pass elem_reference_id= alone, not with element_id= or element_title="
            )
        view = self._view()
        name = self._step(view, step_name)
        if elem_reference_id is not None:
            element = page_service.get_element(view, name, elem_reference_id, by_reference_id=True)
        elif element_id is None and element_title is None:
            element = page_service.sole_data_source(view, name)
        else:
            element = page_service.get_element(view, name, element_id or element_title, by_id=element_id is not None)
            if element_id is not None and element_title is not None:
                self._check_same_element(element, element_id, element_title, name)
        return self._uploaded_bytes(view, name, element)

    @staticmethod
    def _check_same_element(element: Element, element_id: str, element_title: str, step_name: str) -> None:
        """``ValidationError`` when ``element_title`` does not name the element found by ``element_id``."""
        # A positional reference id in the title's place is the SDK's form, so it counts as naming it too.
        if element_title == element.title or (element.reference_id and element_title == element.reference_id):
            return
        raise ValidationError(
            f"get_raw_data_source_data(): element_id={element_id!r} is element {element.title!r} of step "
            f"{step_name!r} but element_title={element_title!r} names another; pass element_id= or "
            "element_title= alone, or both naming the same element"
        )

    @staticmethod
    def _uploaded_bytes(view: run_service.RunView, step_name: str, element: Element) -> io.BytesIO:
        """The bytes uploaded to ``element`` (a ``ValidationError`` when it is no DataSource)."""
        if not isinstance(element, DataSource):
            raise ValidationError(
                f"{element.title!r} in step {step_name!r} is a {type(element).__name__}, not a DataSource: "
                "only a DataSource holds uploaded bytes (read other inputs with get_element_value)"
            )
        found = page_service.raw_upload(view, step_name, element)
        if found is None:
            raise NotFoundError(f"nothing was uploaded to {element.title!r} in step {step_name!r}")
        return io.BytesIO(found[1])

    # --- progress and status -----------------------------------------------------------------

    @_StoreOrStepMethod
    def update_progress(
        self: StoreInterface | None, completion: float, message: str, page_update: bool = False
    ) -> bool:
        """Record and publish a step's progress (0 to 100); returns True once recorded.

        On a store (``store.update_progress(...)``) it reports for that store's step; on the class
        (``StoreInterface.update_progress(...)``, the SDK's static form) for the step whose code runs in
        this thread or task (``StepStateError`` outside a step).
        """
        if self is None:
            run_id, step_name = progress_service.current_step()
            return progress_service.record_progress(run_id, step_name, completion, message, page_update)
        return progress_service.record_progress(self.flow_id, self.step_name, completion, message, page_update)

    @_StoreOrStepMethod
    async def aupdate_progress(
        self: StoreInterface | None, completion: float, message: str, page_update: bool = False
    ) -> bool:
        """``update_progress`` for async code: the database write runs in a worker thread."""
        if self is None:
            run_id, step_name = progress_service.current_step()
        else:
            run_id, step_name = self.flow_id, self.step_name
        return await asyncio.to_thread(
            progress_service.record_progress, run_id, step_name, completion, message, page_update
        )

    def get_flow_status(self) -> FlowStatus:
        """The run's state and each step's state, progress, message, timings and error."""
        view = self._view()
        if view.run.lease_expired() and lifecycle.expire_stale(self.flow_id):  # its process died
            view = self._view()
        return run_service.flow_status(view)

    def get_current_user_details(self) -> UserDetails:
        """The acting user's ``(role, groups)``, as the SDK returns them; ``.name`` is the user's name."""
        return UserDetails(self._principal.name, self._principal.role, list(self._principal.groups))

    def get_custom_attributes(self) -> dict[str, Any]:
        """The acting user's custom attributes: always an empty dict.

        flowdeck keeps no attributes for a user beyond name, role and groups (see
        ``get_current_user_details``); the SDK's come from the vendor's single sign-on.
        """
        return {}

    def is_pyvip_connected(self) -> bool:
        """Always False: flowdeck does not host the vendor's Explore (pyvip) connection."""
        return False

    def get_previous_step_name(self) -> str | None:
        """The name of the step before this one, or None for the first step."""
        view = self._view()
        position = view.position(self._step(view))
        return view.steps[position - 1].name if position > 0 else None

    # --- assets ------------------------------------------------------------------------------

    def save_asset(
        self,
        asset: Asset,
        overwrite: bool = False,
        asset_id: str | None = None,
        serialization_method: AssetPersistenceMethod | str | None = None,
    ) -> str:
        """Save an asset (a new version of its lineage, or overwrite one); returns its id.

        ``serialization_method`` (an ``AssetPersistenceMethod`` or its value) must be able to write the
        object, else ``ValidationError``; the object is then stored exactly (see docs/sdk-compatibility.md).
        """
        from flowdeck.store import assets as asset_service

        if serialization_method is not None:
            asset_service.check_serialization_method(asset, serialization_method)
        view = self._view()
        return asset_service.save_asset(
            self._principal,
            asset,
            overwrite=overwrite,
            asset_id=asset_id,
            flow_id=self.flow_id,
            step_name=self.step_name or view.current_step,
        )

    def get_asset(
        self,
        label: str | None = None,
        type: AssetType | str | None = None,
        name: str | None = None,
        time_created: str | None = None,
        asset_id: str | None = None,
    ) -> Asset | None:
        """The newest asset the user may see that matches, or None.

        Raises ``ValueError`` when label and type are both None and no asset_id is given.
        """
        from flowdeck.store import assets as asset_service

        return asset_service.get_asset(
            self._principal, label=label, type=type, name=name, time_created=time_created, asset_id=asset_id
        )

    def get_assets(
        self,
        label: str | None = None,
        type: AssetType | str | None = None,
        name: str | None = None,
        asset_id: str | None = None,
    ) -> list[Asset]:
        """Every asset version the user may see that matches, newest first (none given: all)."""
        from flowdeck.store import assets as asset_service

        return asset_service.get_assets(self._principal, label=label, type=type, name=name, asset_id=asset_id)

    def get_asset_by_id(self, asset_id: str) -> Asset:
        """Exactly the asset version with this id (``NotFoundError`` if missing or not visible)."""
        from flowdeck.store import assets as asset_service

        return asset_service.get_asset_by_id(self._principal, asset_id)

    def get_model(self, label: str | None = None, name: str | None = None) -> Asset | None:
        """The newest model asset that matches."""
        return self._typed_asset("MODEL", label, name)

    def get_dataset(self, label: str | None = None, name: str | None = None) -> Asset | None:
        """The newest dataset asset that matches."""
        return self._typed_asset("DATASET", label, name)

    def get_explainer(self, label: str | None = None, name: str | None = None) -> Asset | None:
        """The newest explainer asset that matches."""
        return self._typed_asset("EXPLAINER", label, name)

    def get_schema(self, label: str | None = None, name: str | None = None) -> Asset | None:
        """The newest schema asset that matches."""
        return self._typed_asset("SCHEMA", label, name)

    def _typed_asset(self, type_name: str, label: str | None, name: str | None) -> Asset | None:
        from flowdeck.assets import AssetType
        from flowdeck.assets.asset import as_typed_asset

        found = self.get_asset(label=label, type=AssetType[type_name], name=name)
        return None if found is None else as_typed_asset(found)

    # --- datastore assets --------------------------------------------------------------------

    def save_datastore_asset(
        self,
        data: pd.DataFrame,
        name: str,
        asset_id: str | None = None,
        description: str = "",
        overwrite_if_exists: bool = True,
        encode_columns: list[str] | None = None,
        indexes: list[str | list[str] | dict[str, Any]] | None = None,
    ) -> str:
        """Write ``data`` to a SQL table named ``name`` and record a datastore asset version; returns its id.

        The table is in the deployment's database (or ``FLOWDECK_DATASTORE_URL``'s); an overwrite
        replaces its rows atomically. ``indexes`` are columns (or column lists) to index, or the SDK's
        ``{"columns": [...], "unique": bool}``; ``encode_columns`` are kept as JSON text and decoded on query.
        """
        from flowdeck.store import datastore

        view = self._view()
        return datastore.save_datastore_asset(
            self._principal,
            data,
            name,
            asset_id=asset_id,
            description=description,
            overwrite_if_exists=overwrite_if_exists,
            encode_columns=encode_columns,
            indexes=indexes,
            flow_id=self.flow_id,
            step_name=self.step_name or view.current_step,
        )

    def query_datastore_asset(
        self,
        model: Any,
        select_: Any = None,
        where_: Any = None,
        name: str | None = None,
        asset_id: str | None = None,
    ) -> pd.DataFrame:
        """Run a SQLAlchemy query on a datastore asset's table in the database; returns only the result."""
        from flowdeck.store import datastore

        return datastore.query_datastore_asset(
            self._principal, model, select_=select_, where_=where_, name=name, asset_id=asset_id
        )

    # --- connections -------------------------------------------------------------------------

    def db_to_pandas(
        self, query: str, conn_name: str, connection_owner: str | None = None, **kwargs: Any
    ) -> pd.DataFrame:
        """Run ``query`` on a stored connection and return the rows as a DataFrame.

        ``params={...}`` binds values to ``:name`` placeholders; ``chunksize=`` yields frames;
        ``http_path=`` overrides a Databricks connection's stored path.
        """
        from flowdeck.store import connections as connection_service

        return connection_service.db_to_pandas(self._principal, query, conn_name, connection_owner, **kwargs)

    def pandas_to_db(
        self,
        _df: pd.DataFrame,
        table: str,
        conn_name: str,
        connection_owner: str | None = None,
        if_exists: str = "fail",
        **kwargs: Any,
    ) -> int:
        """Write a DataFrame to ``table`` through a stored connection, whole or not at all.

        ``if_exists``: ``'fail'`` | ``'overwrite'`` | ``'append'`` (``'replace'`` = ``'overwrite'``).
        Returns the number of rows written.
        """
        from flowdeck.store import connections as connection_service

        return connection_service.pandas_to_db(
            self._principal, _df, table, conn_name, connection_owner, if_exists=if_exists, **kwargs
        )

    def get_boto3_s3_client_from_connection_store(
        self, connection_id: str, connection_owner: str | None = None, **kwargs: Any
    ) -> Any:
        """A boto3 S3 client built from the stored connection ``connection_id`` (its name; type ``s3``).

        Of the SDK's extra keyword arguments, ``region_name=`` is accepted (it replaces the connection's
        region); others would change whose credentials or which endpoint the client uses, and are refused.
        """
        from flowdeck.store import connections as connection_service

        unknown = sorted(set(kwargs) - set(_S3_CLIENT_KWARGS))
        if unknown:
            raise ValidationError(
                f"get_boto3_s3_client_from_connection_store() does not take {unknown}; it accepts "
                f"{list(_S3_CLIENT_KWARGS)} — credentials and endpoint come from the stored connection"
            )
        return connection_service.get_boto3_s3_client(self._principal, connection_id, connection_owner, **kwargs)

    @staticmethod
    def str_2_connection_type(list_connection_type: list[str]) -> list[ConnectionType]:
        """Convert names (any case) to ``ConnectionType`` members; an unknown name is a ``ValueError``.

        Anything but a list (or other iterable) of names, ``None`` included, is a ``ValidationError``
        saying what it takes.
        """
        from flowdeck.storage import connection_urls

        return connection_urls.str_2_connection_type(list_connection_type)

    # --- object storage ----------------------------------------------------------------------

    def get_s3_asset(self, path: str) -> Any:
        """Read ``path`` from this store's ``bucket_name``: DataFrame for tables, dict/list for JSON,
        BytesIO otherwise."""
        from flowdeck.store import objects as object_service

        return object_service.get_s3_asset(self.bucket_name, self.profile_name, path)

    @staticmethod
    def list_fixture_data(prefix: str | None = None) -> list[str]:
        """Keys under ``fixture/<prefix>`` of the deployment's metadata bucket, sorted."""
        from flowdeck.store import objects as object_service

        return object_service.list_fixture_data(prefix)
