"""Contract checks for settings (DESIGN §1), callbacks (§10) and datastore assets (§11), written
as a flow writer reads them: the names, arguments and errors the contract states."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedAsDataclass, mapped_column

import flowdeck
import headless_flows
from flowdeck import (
    AssetType,
    Button,
    Card,
    Flow,
    InfographData,
    Infographic,
    Page,
    Section,
    Step,
    StoreInterface,
)
from flowdeck.elements.callbacks import page_update_callback, standard_event_callback
from flowdeck.errors import CallbackError, ValidationError
from flowdeck.storage.datastore import datastore_engine

# --- §10: callbacks --------------------------------------------------------------------------


@standard_event_callback
def figures_clicked(store_interface: StoreInterface, **step_clients: object) -> str:
    """The infographic's own on_click."""
    return "figures clicked"


@standard_event_callback
def item_clicked(store_interface: StoreInterface, **step_clients: object) -> str:
    """One item's on_click."""
    return "item clicked"


@page_update_callback
def breaks(store_interface: StoreInterface, input_data: object = None, **step_clients: object) -> None:
    """A page update that raises."""
    raise ZeroDivisionError("broken callback")


class Board(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        page.add_card_to_section(
            Card(
                "Figures",
                [
                    Infographic(
                        title="Key figures",
                        data=[InfographData("Revenue", "12", on_click=item_clicked), InfographData("Cost", "3")],
                        on_click=figures_clicked,
                    ),
                    Button(title="Break", on_click=breaks),
                ],
            ),
            "",
        )
        store.update_page(page)


board_flow = Flow(name="Board", description="an infographic and a failing button")
board_flow.chain([Board(title="Board", page=Page("Board", [Section("", [])]))])


def test_infographic_takes_on_click(embedded) -> None:
    # DESIGN §10: callbacks hang on `RichText/Infographic(on_click=)`; run.click(title) runs it.
    run = flowdeck.start(board_flow, user="alice")
    assert run.click("Key figures") == "figures clicked"
    assert run.click("Revenue") == "item clicked"  # an item's own on_click still answers for the item
    element = run.page().get_element_by_title("Key figures")
    assert element.on_click is not None  # kept, by reference, through the stored page
    assert (
        element.to_json()["on_click"]
        == Infographic(title="x", data=[InfographData("a", "1")], on_click=figures_clicked).to_json()["on_click"]
    )


def test_callback_error_is_step_failed_error_like(embedded) -> None:
    # DESIGN §10: "StepFailedError-like CallbackError with the traceback kept": run, flow_id and
    # step_name let the caller go on, as with StepFailedError.
    run = flowdeck.start(board_flow, user="alice")
    with pytest.raises(CallbackError) as caught:
        run.click("Break")
    err = caught.value
    assert err.flow_id == run.flow_id
    assert err.step_name == "Board"
    assert err.run is run
    assert "ZeroDivisionError" in (err.traceback or "")
    assert isinstance(err.__cause__, ZeroDivisionError)
    assert err.run.click("Key figures") == "figures clicked"


# --- §11: datastore assets -------------------------------------------------------------------


class Base(MappedAsDataclass, DeclarativeBase):
    pass


class Iris(Base):
    __tablename__ = "iris"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    sepal_length: Mapped[Optional[float]] = mapped_column(sa.Double())  # noqa: UP045 - as the SDK writes it
    species: Mapped[Optional[str]] = mapped_column(sa.Text)  # noqa: UP045


def _drop_tables() -> None:
    with datastore_engine().begin() as conn:
        for name in ("iris", "dup_ids"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def store(deployment: str) -> Iterator[StoreInterface]:
    _drop_tables()
    flowdeck.register_flow(headless_flows.one_step)
    yield StoreInterface(flowdeck.run_headless("One step", "alice"), user="alice")
    _drop_tables()


IRIS = pd.DataFrame(
    {"id": [1, 2, 3, 4], "sepal_length": [5.1, 0.0, 6.3, 4.9], "species": ["setosa", "setosa", "virginica", "setosa"]}
)


def test_query_datastore_asset_takes_the_sdks_lists(store: StoreInterface) -> None:
    # The SDK's example: select_ and where_ are lists of column expressions.
    asset_id = store.save_datastore_asset(
        data=IRIS, name="iris", indexes=[{"columns": ["sepal_length"], "unique": False}]
    )
    got = store.query_datastore_asset(
        model=Iris, name="iris", select_=[Iris.sepal_length, Iris.species], where_=[Iris.sepal_length > 0]
    )
    expected = IRIS[IRIS.sepal_length > 0][["sepal_length", "species"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got.sort_values("sepal_length").reset_index(drop=True),
        expected.sort_values("sepal_length").reset_index(drop=True),
    )
    both = store.query_datastore_asset(
        Iris, asset_id=asset_id, select_=[Iris.id], where_=[Iris.sepal_length > 0, Iris.species == "setosa"]
    )
    assert sorted(both["id"]) == [1, 4]
    one = store.query_datastore_asset(Iris, select_=Iris.id, where_=Iris.species == "virginica")
    assert list(one["id"]) == [3]
    # flowdeck's own form keeps working
    counted = store.query_datastore_asset(
        Iris, select_=sa.select(Iris.species, sa.func.count().label("n")).group_by(Iris.species).order_by(Iris.species)
    )
    assert counted.to_dict("records") == [{"species": "setosa", "n": 3}, {"species": "virginica", "n": 1}]
    with pytest.raises(ValidationError, match="select_"):
        store.query_datastore_asset(Iris, select_=[object()])


def test_datastore_indexes_in_the_sdks_form_and_the_asset_name(store: StoreInterface) -> None:
    asset_id = store.save_datastore_asset(
        IRIS, "iris", indexes=[{"columns": ["sepal_length"], "unique": False}, {"columns": ["id"], "unique": True}]
    )
    with datastore_engine().connect() as conn:
        indexes = {ix["name"]: ix for ix in sa.inspect(conn).get_indexes("iris")}
    assert indexes["ix_iris_sepal_length"]["column_names"] == ["sepal_length"]
    assert not indexes["ix_iris_sepal_length"]["unique"]
    assert indexes["ux_iris_id"]["unique"]
    asset = store.get_asset_by_id(asset_id)
    assert asset.name == "iris" and asset.label == "iris" and asset.type == AssetType.DATASTORE
    assert store.get_asset(type=AssetType.DATASTORE, name="iris").id == asset_id
    with pytest.raises(ValidationError, match="unique"):
        store.save_datastore_asset(
            pd.DataFrame({"id": [1, 1]}), "dup_ids", indexes=[{"columns": ["id"], "unique": True}]
        )
    with pytest.raises(ValidationError, match="index"):
        store.save_datastore_asset(IRIS, "iris", indexes=[{"cols": ["id"]}])


# --- §1: settings ----------------------------------------------------------------------------


def test_settings_repr_hides_secrets(home) -> None:
    settings = flowdeck.configure(
        home=str(home),
        database_url=f"sqlite:///{home / 'flowdeck.db'}",
        smtp_url="smtp://mailer:s3cret@mail.example:25",
    )
    shown = repr(settings)
    assert settings.secret_key not in shown and "secret_key='***'" in shown
    assert "s3cret" not in shown and "smtp://mailer:***@mail.example:25" in shown
    assert settings.smtp_url == "smtp://mailer:s3cret@mail.example:25"  # the value itself is untouched
    flowdeck.configure(home=str(home))
