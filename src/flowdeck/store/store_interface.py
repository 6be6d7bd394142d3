"""``StoreInterface``: the flow writer's one handle on everything a flow stores.

A thin facade: it checks arguments and who is asking, then delegates to the services in
``flowdeck.store``. Its names, parameters and defaults follow the platform's API reference.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from flowdeck.auth.users import Principal, resolve_principal
from flowdeck.errors import ValidationError
from flowdeck.store import lifecycle
from flowdeck.store import outputs as output_service
from flowdeck.store import pages as page_service
from flowdeck.store import progress as progress_service
from flowdeck.store import runs as run_service
from flowdeck.store.status import FlowStatus

if TYPE_CHECKING:
    import pandas as pd

    from flowdeck.assets import Asset, AssetType
    from flowdeck.elements import Element
    from flowdeck.page import Page
    from flowdeck.storage.connection_urls import ConnectionType

__all__ = ["StoreInterface"]


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
        self._principal: Principal = resolve_principal(user)
        self.user = self._principal.name
        view = run_service.load_run(flow_id, self._principal)
        if step_name is not None:
            view.step(step_name)

    def __repr__(self) -> str:
        return f"StoreInterface(flow_id={self.flow_id!r}, user={self.user!r}, step_name={self.step_name!r})"

    # --- helpers -----------------------------------------------------------------------------

    def _view(self) -> run_service.RunView:
        view = run_service.load_run(self.flow_id, self._principal)
        # Inside a step whose action was cancelled, any store call stops the step here.
        lifecycle.check_cancelled(self.flow_id, view.run.action_token)
        return view

    def _step(self, view: run_service.RunView, step_name: str | None = None) -> str:
        name = step_name or self.step_name or view.current_step
        if name is None:
            raise ValidationError(f"run {self.flow_id!r} is complete and has no current step; pass step_name=")
        view.step(name)
        return name

    # --- outputs -----------------------------------------------------------------------------

    def save_output(self, data: Any, name: str) -> None:
        """Save a value under ``name`` for later steps (saving a name again replaces it; history kept).

        DataFrames and Series are stored as Arrow, JSON-like values as JSON, bytes raw, numpy arrays
        as ``.npy`` and any other picklable object as a signed pickle. A value that cannot be stored
        raises ``ValueError`` naming its type.
        """
        output_service.save_output(self.flow_id, self.step_name, data, name)

    def get_input(self, name: str, step_name: str | None = None) -> Any:
        """A value saved by an earlier step (the nearest wins), or by ``step_name`` when given.

        Raises ``ValueError`` (``NotFoundError``) listing the names that exist when ``name`` is missing.
        """
        view = self._view()
        reader = self.step_name or view.current_step
        return output_service.get_output(view, name, step_name=step_name, reader_step=reader)

    def has_input(self, name: str) -> bool:
        """Whether ``name`` is in this step's in-link."""
        view = self._view()
        reader = self.step_name or view.current_step
        return output_service.has_output(view, name, reader_step=reader)

    # --- pages and elements ------------------------------------------------------------------

    def get_page(self) -> Page:
        """The newest version of this step's page."""
        view = self._view()
        return page_service.get_page(view, self._step(view))

    def update_page(self, page: Page) -> None:
        """Store ``page`` as this step's page (input titles must be unique, else ``ValueError``)."""
        view = self._view()
        page_service.update_page(view, self._step(view), page)

    def get_element(self, step_name: str, elem_title: str, quiet: bool = False) -> Element | None:
        """An element of any step by its title (None when missing and ``quiet``)."""
        return page_service.get_element(self._view(), step_name, elem_title, quiet=quiet)

    def get_element_by_id(self, step_name: str, elem_id: str) -> Element:
        """An element of any step by its generated id."""
        return page_service.get_element(self._view(), step_name, elem_id, by_id=True)

    def get_element_value(self, step_name: str, elem_title: str, quiet: bool = False) -> Any:
        """The value of an input element: DataSource → DataFrame (bytes when raw), Dropdown → selection,
        TextInput → str, NumericRange → (low, high), DateTimeRange → (start, end)."""
        return page_service.get_element_value(self._view(), step_name, elem_title, quiet=quiet)

    def create_future_element(self, elem: Element, future_step_name: str) -> None:
        """Put ``elem`` on ``future_step_name``'s page when it runs; it is addressable before."""
        view = self._view()
        page_service.create_future_element(view, self._step(view), elem, future_step_name)

    def create_element_link(self, element: Element | str, step_name: str | None = None) -> str:
        """A stable link to an element of this or an earlier step, resolved by the UI."""
        view = self._view()
        current = self._step(view)
        return page_service.create_element_link(view, element, step_name or current, current)

    def get_current_step_user_input(self, data_source_title: str) -> io.BytesIO:
        """The bytes uploaded to a DataSource of the current step, before its action ran."""
        return self.get_raw_data_source_data(element_title=data_source_title)

    def get_raw_data_source_data(
        self, step_name: str | None = None, element_id: str | None = None, element_title: str | None = None
    ) -> io.BytesIO:
        """The bytes uploaded to a DataSource (by id or title) of ``step_name`` (default: this step)."""
        if element_id is None and element_title is None:
            raise ValidationError("get_raw_data_source_data() needs element_id= or element_title=")
        view = self._view()
        name = self._step(view, step_name)
        element = page_service.get_element(view, name, element_id or element_title, by_id=element_id is not None)
        found = page_service.raw_upload(view, name, element)
        if found is None:
            from flowdeck.errors import NotFoundError

            raise NotFoundError(f"nothing was uploaded to {element.title!r} in step {name!r}")
        return io.BytesIO(found[1])

    # --- progress and status -----------------------------------------------------------------

    def update_progress(self, completion: float, message: str, page_update: bool = False) -> bool:
        """Record and publish this step's progress (0 to 100); returns True once recorded."""
        return progress_service.record_progress(self.flow_id, self.step_name, completion, message, page_update)

    def get_flow_status(self) -> FlowStatus:
        """The run's state and each step's state, progress, message, timings and error."""
        return run_service.flow_status(self._view())

    def get_previous_step_name(self) -> str | None:
        """The name of the step before this one, or None for the first step."""
        view = self._view()
        position = view.position(self._step(view))
        return view.steps[position - 1].name if position > 0 else None

    # --- assets ------------------------------------------------------------------------------

    def save_asset(self, asset: Asset, overwrite: bool = False, asset_id: str | None = None) -> str:
        """Save an asset (a new version of its lineage, or overwrite one); returns its id."""
        from flowdeck.store import assets as asset_service

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

        return self.get_asset(label=label, type=AssetType[type_name], name=name)

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

    def get_boto3_s3_client_from_connection_store(self, connection_id: str, connection_owner: str | None = None) -> Any:
        """A boto3 S3 client built from the stored connection ``connection_id`` (its name; type ``s3``)."""
        from flowdeck.store import connections as connection_service

        return connection_service.get_boto3_s3_client(self._principal, connection_id, connection_owner)

    @staticmethod
    def str_2_connection_type(list_connection_type: list[str]) -> list[ConnectionType]:
        """Convert names (any case) to ``ConnectionType`` members; an unknown name is a ``ValueError``."""
        from flowdeck.storage.connection_urls import str_2_connection_type

        return str_2_connection_type(list_connection_type)

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
