"""The asset catalogue: asset classes, versions, overwrite, every getter and filter, storage formats,
lazy loading, integrity, and assets outliving runs."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cryptography.fernet import Fernet
from pandas.testing import assert_frame_equal

import flowdeck
import flows_for_assets
import sample_flows
from flowdeck import (
    Asset,
    AssetType,
    Dataset,
    Explainer,
    IntegrityError,
    Model,
    NotFoundError,
    Schema,
    StoreInterface,
    ValidationError,
)
from flowdeck.assets import SchemaMismatch
from flowdeck.config import configure, get_settings
from flowdeck.storage.deployment import get_storage
from flowdeck.storage.records import assets as asset_records

TESTS_DIR = Path(__file__).parent


def _store(user: str = "alice") -> StoreInterface:
    run = flowdeck.start(sample_flows.three_steps, user=user)
    return StoreInterface(run.flow_id, user=user)


@pytest.fixture
def store(deployment: str) -> StoreInterface:
    return _store("alice")


def _frame(rows: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "city": pd.Categorical(["Oslo", "Lima"] * (rows // 2)),
            "when": pd.date_range("2024-01-01", periods=rows, tz="UTC"),
            "score": np.linspace(0.0, 1.0, rows),
        }
    )


def _big_frame() -> pd.DataFrame:
    # Larger than the inline threshold, so it is kept as a blob.
    return pd.DataFrame({"x": np.arange(40_000, dtype="int64"), "y": np.arange(40_000, dtype="float64")})


def _blob_key(asset_id: str) -> str:
    with get_storage().db.read() as conn:
        key = asset_records.object_data(conn, asset_id).blob_key
    assert key is not None
    return key


def _current_settings() -> dict[str, str | None]:
    settings = get_settings()
    return {
        "home": str(settings.home),
        "database_url": settings.database_url,
        "blob_url": settings.blob_url,
        "s3_endpoint_url": settings.s3_endpoint_url,
    }


# --------------------------------------------------------------------------- the plain classes


def test_asset_types_accept_names_in_any_case() -> None:
    assert AssetType("Model") is AssetType.MODEL
    assert AssetType.parse("knowledge_graph") is AssetType.KNOWLEDGE_GRAPH
    assert AssetType.parse("NLProcessor") is AssetType.NLPROCESSOR
    assert AssetType.MODEL == "model"
    with pytest.raises(ValidationError, match=r"unknown asset type 'modle'; use one of MODEL, DATASET"):
        AssetType.parse("modle")


def test_asset_keeps_extra_arguments_with_its_metadata() -> None:
    asset = Asset([1, 2], "numbers", "other", metadata={"source": "test"}, name="small", accuracy=0.75)
    assert asset.accuracy == 0.75
    assert asset.metadata == {"source": "test", "accuracy": 0.75}
    assert asset.extra == {"accuracy": 0.75}
    assert (asset.label, asset.type, asset.name) == ("numbers", AssetType.OTHER, "small")
    assert asset.id is None and asset.asset_id is None
    assert asset.get_object() == [1, 2]
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        _ = asset.missing
    with pytest.raises(ValidationError, match=r"extra asset arguments \['owner'\] clash"):
        Asset(1, "x", "other", owner="eve")
    with pytest.raises(ValidationError, match="asset label must be a non-empty string"):
        Asset(1, "", "other")


def test_notes_links_and_description() -> None:
    target = Asset(1, "target", "other")
    target.id = "abc123"
    asset = Asset(2, "source", "other").set_description("first").link_asset("parent", target)
    asset.add_user_notes("use with care").add_engineer_notes("retrain monthly")
    assert asset.description == "first"
    assert asset.linked_assets == {"parent": "abc123"}
    assert asset.metadata["linked_assets"] == {"parent": "abc123"}
    assert (asset.user_notes, asset.engineer_notes) == (["use with care"], ["retrain monthly"])
    # An asset not saved yet is linked once it is (tests/test_asset_links.py); until then it is left out.
    asset.link_asset("other", Asset(3, "unsaved", "other"))
    assert asset.linked_assets == {"parent": "abc123"} and len(asset.unsaved_links()) == 1
    with pytest.raises(ValidationError, match="give an Asset or the id of a saved one"):
        asset.link_asset("bad", 42)  # type: ignore[arg-type]


def test_dataset_column_roles() -> None:
    frame = _frame()
    dataset = Dataset(frame, "customers", categorical_columns=["city"], predict_columns="score")
    assert dataset.type is AssetType.DATASET
    assert (dataset.categorical_columns, dataset.predict_columns) == (["city"], ["score"])
    with pytest.raises(ValidationError, match=r"has no columns \['nope'\] to mark as categorical"):
        dataset.set_categorical_columns(["nope"])


def test_model_passes_attribute_access_through_to_the_estimator() -> None:
    from sklearn.linear_model import LogisticRegression

    features, target = flows_for_assets.training_data()
    estimator = LogisticRegression().fit(features, target)
    model = Model(estimator, "clf", accuracy=0.9)
    assert model.type is AssetType.MODEL
    np.testing.assert_array_equal(model.predict(features), estimator.predict(features))
    assert model.classes_.tolist() == [0, 1]
    assert model.accuracy == 0.9
    with pytest.raises(AttributeError, match="neither the asset nor its LogisticRegression has attribute 'nope'"):
        _ = model.nope


def test_schema_validates_frames() -> None:
    frame = _frame()
    schema = Schema.from_frame(frame, "customers-schema")
    assert schema.type is AssetType.SCHEMA
    assert schema.columns == ["id", "city", "when", "score"]
    assert schema.dtypes["id"] == "int64"
    assert schema.mismatches(frame) == []
    assert schema.validate(frame) is True
    other = frame.drop(columns=["when"]).assign(id=frame["id"].astype("float64"), extra=1)
    assert schema.mismatches(other, allow_extra_columns=False) == [
        SchemaMismatch("id", "dtype", "int64", "float64"),
        SchemaMismatch("when", "missing", str(frame["when"].dtype), None),
        SchemaMismatch("extra", "unexpected", None, "int64"),
    ]
    assert str(schema.mismatches(other)[0]) == "column 'id' has dtype float64, expected int64"
    assert schema.mismatches(frame.assign(extra=1)) == []
    with pytest.raises(
        ValidationError,
        match=r"does not match schema 'customers-schema': column 'id' has dtype float64, expected int64; "
        r"column 'when' is missing",
    ):
        schema.validate(other)
    exact = Schema(frame.dtypes, True, label="exact")
    with pytest.raises(ValidationError, match="column 'extra' is not in the schema"):
        exact.validate(frame.assign(extra=1))
    valued = Schema(frame.dtypes, valid_inputs={"city": ["Lima"]}, label="valued")
    with pytest.raises(ValidationError, match=r"column 'city' holds \['Oslo'\], not among \['Lima'\]"):
        valued.validate(frame)
    assert Schema({"a": "int64", "b": np.dtype("float64")}, label="s").dtypes == {"a": "int64", "b": "float64"}


def test_to_json_round_trips_the_description() -> None:
    asset = Explainer({"w": [1, 2]}, "explain", name="v1", description="d", kind="shap")
    document = asset.to_json()
    assert json.loads(json.dumps(document)) == document
    again = Asset.from_json(document)
    assert isinstance(again, Explainer)
    assert (again.label, again.type, again.name, again.description, again.kind) == (
        "explain",
        AssetType.EXPLAINER,
        "v1",
        "d",
        "shap",
    )
    with pytest.raises(ValidationError, match="rebuilt from its description without its object"):
        again.get_object()


# --------------------------------------------------------------------------- saving and versions


def test_saving_again_makes_a_new_version_with_a_new_id(store: StoreInterface) -> None:
    first = Dataset(_frame(2), "customers")
    id1 = store.save_asset(first)
    id2 = store.save_asset(Dataset(_frame(4), "customers"))
    assert id1 != id2
    assert (first.id, first.version, first.owner, first.flow_id, first.step_name) == (
        id1,
        1,
        "alice",
        store.flow_id,
        "Produce",
    )
    assert first.time_created.tzinfo is not None and first.time_created == first.time_updated
    versions = store.get_assets(label="customers")
    assert [(a.id, a.version) for a in versions] == [(id2, 2), (id1, 1)]
    assert store.get_asset(label="customers").id == id2
    assert_frame_equal(store.get_asset_by_id(id1).object, _frame(2))
    assert_frame_equal(store.get_dataset("customers").get_object(), _frame(4))


def test_a_name_or_another_type_starts_another_lineage(store: StoreInterface) -> None:
    plain = store.save_asset(Asset(1, "thing", "other"))
    named = store.save_asset(Asset(2, "thing", "other", name="v-a"))
    model = store.save_asset(Asset(3, "thing", AssetType.MODEL))
    assert [a.version for a in store.get_assets(label="thing")] == [1, 1, 1]
    assert store.get_asset(label="thing", type="other", name="v-a").id == named
    assert store.get_asset(label="thing", type="model").id == model
    assert {a.id for a in store.get_assets(label="thing", type="OTHER")} == {plain, named}


def test_overwrite_replaces_the_newest_version_in_place(store: StoreInterface) -> None:
    id1 = store.save_asset(Asset({"v": 1}, "cfg", "other"))
    id2 = store.save_asset(Asset({"v": 2}, "cfg", "other"))
    before = store.get_asset_by_id(id2)
    other = store.save_asset(Asset({"v": 0}, "unrelated", "other"))
    replaced = Asset({"v": 3}, "cfg", "other", description="fixed")
    assert store.save_asset(replaced, overwrite=True) == id2
    assert (replaced.id, replaced.version) == (id2, 2)
    after = store.get_asset_by_id(id2)
    assert after.get_object() == {"v": 3}
    assert after.description == "fixed"
    assert after.time_created == before.time_created
    assert after.time_updated > before.time_updated
    assert [a.id for a in store.get_assets(label="cfg")] == [id2, id1]
    # Its place in the order is kept: the unrelated asset saved later is still newer.
    assert [a.id for a in store.get_assets(type="other")] == [other, id2, id1]


def test_overwrite_by_id_replaces_that_version(store: StoreInterface) -> None:
    id1 = store.save_asset(Asset("one", "note", "other"))
    id2 = store.save_asset(Asset("two", "note", "other"))
    assert store.save_asset(Asset("uno", "note", "other"), asset_id=id1) == id1
    assert store.get_asset_by_id(id1).object == "uno"
    assert store.get_asset_by_id(id2).object == "two"
    assert [a.version for a in store.get_assets(label="note")] == [2, 1]
    with pytest.raises(ValidationError, match=r"cannot be overwritten with \('other-label', other"):
        store.save_asset(Asset("x", "other-label", "other"), asset_id=id1)
    with pytest.raises(NotFoundError, match="no asset 'nope' visible to user 'alice'"):
        store.save_asset(Asset("x", "note", "other"), asset_id="nope")


def test_overwrite_without_an_existing_lineage_saves_version_one(store: StoreInterface) -> None:
    asset_id = store.save_asset(Asset(1, "fresh", "other"), overwrite=True)
    assert store.get_asset_by_id(asset_id).version == 1


def test_resaving_a_read_asset_keeps_its_object_unread(store: StoreInterface) -> None:
    original = store.save_asset(Dataset(_big_frame(), "big"))
    read = store.get_asset_by_id(original)
    read.set_description("same data, new words")
    new_id = store.save_asset(read)
    assert not read.is_loaded
    assert (read.id, read.version) == (new_id, 2)
    assert _blob_key(new_id) == _blob_key(original)
    assert_frame_equal(store.get_asset_by_id(new_id).object, _big_frame())


def test_get_asset_needs_label_type_or_id(store: StoreInterface) -> None:
    with pytest.raises(ValueError, match=r"get_asset\(\) needs label=, type= or asset_id="):
        store.get_asset()
    with pytest.raises(ValidationError):
        store.get_asset(name="only-a-name")
    assert store.get_asset(label="missing") is None
    assert store.get_model("missing") is None


def test_every_filter_combination(store: StoreInterface) -> None:
    saved = {}
    for label in ("a", "b"):
        for kind in (AssetType.MODEL, AssetType.DATASET):
            for name in (None, "n1"):
                saved[(label, kind, name)] = store.save_asset(Asset(f"{label}{kind}{name}", label, kind, name=name))
    newest_first = list(reversed(saved.values()))

    def expect(label=None, kind=None, name=None) -> list[str]:
        return [
            asset_id
            for asset_id in newest_first
            for key in [next(k for k, v in saved.items() if v == asset_id)]
            if (label is None or key[0] == label)
            and (kind is None or key[1] == kind)
            and (name is None or key[2] == name)
        ]

    for label in (None, "a", "b"):
        for kind in (None, AssetType.MODEL, "dataset"):
            for name in (None, "n1"):
                got = [a.id for a in store.get_assets(label=label, type=kind, name=name)]
                want = expect(label, AssetType.parse(kind) if kind else None, name)
                assert got == want, (label, kind, name)
                if label is not None or kind is not None:
                    first = store.get_asset(label=label, type=kind, name=name)
                    assert first is not None and first.id == want[0]
                for asset_id in (want[0], saved[("b", AssetType.MODEL, None)]):
                    by_id = [a.id for a in store.get_assets(label=label, type=kind, name=name, asset_id=asset_id)]
                    assert by_id == ([asset_id] if asset_id in want else [])
    assert store.get_asset(asset_id=saved[("a", AssetType.MODEL, "n1")]).object == "amodeln1"
    assert store.get_assets(asset_id="missing") == []
    assert store.get_asset(asset_id="missing") is None


def test_typed_getters(store: StoreInterface) -> None:
    from sklearn.linear_model import LogisticRegression

    features, target = flows_for_assets.training_data()
    store.save_asset(Dataset(features, "churn"))
    store.save_asset(Model(LogisticRegression().fit(features, target), "churn"))
    store.save_asset(Explainer({"weights": [0.1, 0.2]}, "churn", name="shap"))
    store.save_asset(Schema.from_frame(features, "churn"))
    assert isinstance(store.get_dataset("churn"), Dataset)
    assert isinstance(store.get_model("churn"), Model)
    assert store.get_explainer("churn", name="shap").object == {"weights": [0.1, 0.2]}
    assert store.get_explainer("churn") is not None
    assert store.get_explainer("churn", name="other") is None
    schema = store.get_schema("churn")
    assert isinstance(schema, Schema) and schema.validate(features) is True
    assert store.get_model(name="nobody") is None


def test_time_created_filter(store: StoreInterface) -> None:
    id1 = store.save_asset(Asset(1, "timed", "other"))
    id2 = store.save_asset(Asset(2, "timed", "other"))
    first = store.get_asset_by_id(id1)
    assert store.get_asset(label="timed", time_created=first.time_created).id == id1
    assert store.get_asset(label="timed", time_created=first.time_created.isoformat()).id == id1
    naive = first.time_created.replace(tzinfo=None).isoformat()
    assert store.get_asset(label="timed", time_created=naive).id == id1
    # A coarser string matches every version created in that span; the newest wins.
    assert store.get_asset(label="timed", time_created=first.time_created.date().isoformat()).id == id2
    assert store.get_asset(label="timed", time_created="1999-01-01T00:00:00") is None
    with pytest.raises(ValidationError, match="is not an ISO 8601 date-time"):
        store.get_asset(label="timed", time_created="yesterday")


def test_metadata_must_be_json(store: StoreInterface) -> None:
    with pytest.raises(ValidationError, match="metadata 'when' cannot be stored as JSON"):
        store.save_asset(Asset(1, "bad", "other", when=dt.datetime(2024, 1, 1)))
    ok = store.save_asset(Asset(1, "numpy-meta", "other", count=np.int64(3)))
    assert store.get_asset_by_id(ok).count == 3
    with pytest.raises(ValidationError, match=r"save_asset\(\) takes an Asset"):
        store.save_asset({"not": "an asset"})


# --------------------------------------------------------------------------- storage formats


def test_frames_round_trip_exactly(store: StoreInterface) -> None:
    asset_id = store.save_asset(Dataset(_frame(), "frame", categorical_columns=["city"]))
    read = store.get_asset_by_id(asset_id)
    assert_frame_equal(read.object, _frame())
    assert read.categorical_columns == ["city"]
    with get_storage().db.read() as conn:
        assert asset_records.object_data(conn, asset_id).codec == "arrow"


def test_estimators_are_stored_with_skops_and_a_trusted_type_list(store: StoreInterface) -> None:
    from sklearn.linear_model import LogisticRegression

    features, target = flows_for_assets.training_data()
    estimator = LogisticRegression().fit(features, target)
    asset_id = store.save_asset(Model(estimator, "skops-model"))
    with get_storage().db.read() as conn:
        row = asset_records.get_version(conn, asset_id)
    info = json.loads(row.metadata_json)["object"]
    assert row.codec == "skops"
    assert info["format"] == "skops" and isinstance(info["trusted"], list) and info["mac"]
    loaded = store.get_asset_by_id(asset_id)
    np.testing.assert_array_equal(loaded.predict(features), estimator.predict(features))


def test_a_skops_file_with_a_forged_trusted_list_is_refused(store: StoreInterface) -> None:
    from sklearn.linear_model import LogisticRegression

    features, target = flows_for_assets.training_data()
    asset_id = store.save_asset(Model(LogisticRegression().fit(features, target), "forged"))
    with get_storage().db.write() as conn:
        row = asset_records.get_version(conn, asset_id)
        document = json.loads(row.metadata_json)
        document["object"]["trusted"] = [*document["object"]["trusted"], "builtins.eval"]
        from flowdeck.storage.schema import assets as assets_table

        conn.execute(
            assets_table.update().where(assets_table.c.id == asset_id).values(metadata_json=json.dumps(document))
        )
    with pytest.raises(IntegrityError, match="skops file's signature does not match this deployment's key"):
        store.get_asset_by_id(asset_id).get_object()


def test_other_objects_use_signed_pickle(store: StoreInterface) -> None:
    value = flows_for_assets.Opaque(b"x" * 10)
    asset_id = store.save_asset(Asset(value, "opaque", "other"))
    with get_storage().db.read() as conn:
        assert asset_records.object_data(conn, asset_id).codec == "pickle"
    assert store.get_asset_by_id(asset_id).object == value


def test_unstorable_objects_are_a_clear_error(store: StoreInterface) -> None:
    message = "cannot save the asset's object: cannot store a value of type 'function'"
    with pytest.raises(ValidationError, match=message):
        store.save_asset(Asset(lambda x: x, "lambda", "other"))
    assert store.get_assets(label="lambda") == []


def test_listing_reads_no_object_bytes(store: StoreInterface) -> None:
    asset_id = store.save_asset(Dataset(_big_frame(), "lazy"))
    get_storage().blobs.backend.write(_blob_key(asset_id), [b"corrupted bytes"])
    listed = store.get_assets(label="lazy")
    assert [a.id for a in listed] == [asset_id]
    assert not listed[0].is_loaded
    assert store.get_dataset("lazy").description is None
    message = rf"asset '{asset_id}' \('lazy', version 1\) cannot be loaded: blob .* is corrupted"
    with pytest.raises(IntegrityError, match=message):
        listed[0].get_object()


def test_a_tampered_blob_is_an_integrity_error(store: StoreInterface) -> None:
    from sklearn.linear_model import LogisticRegression

    features, target = flows_for_assets.training_data()
    asset_id = store.save_asset(Model(LogisticRegression().fit(features, target), "tampered"))
    with get_storage().db.read() as conn:
        size = asset_records.object_data(conn, asset_id).size
    # Same length, other bytes (written without reading the blob first, so no read cache holds it).
    get_storage().blobs.backend.write(_blob_key(asset_id), [b"\x00" * size])
    with pytest.raises(IntegrityError, match="is corrupted"):
        store.get_model("tampered").predict(features)


def test_a_pickle_signed_with_another_key_is_never_unpickled(store: StoreInterface, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    asset_id = store.save_asset(Asset(flows_for_assets.Boobytrap(str(marker)), "trap", "other"))
    settings = _current_settings()
    configure(**settings, secret_key=Fernet.generate_key().decode())
    try:
        other = StoreInterface(store.flow_id, user="alice")
        listed = other.get_asset_by_id(asset_id)
        with pytest.raises(IntegrityError, match="pickle signature does not match this deployment's key; refusing"):
            listed.get_object()
        assert not marker.exists()
    finally:
        configure(**settings)
    # With the right key the same bytes do unpickle: the trap was real.
    assert store.get_asset_by_id(asset_id).get_object() == "unpickled"
    assert marker.exists()


# --------------------------------------------------------------------------- assets outlive runs


def test_deleting_a_run_keeps_its_assets(store: StoreInterface) -> None:
    asset_id = store.save_asset(Dataset(_big_frame(), "survivor"))
    flowdeck.delete_run(store.flow_id, user="alice")
    with pytest.raises(NotFoundError):
        StoreInterface(store.flow_id, user="alice")
    other = _store("alice")
    kept = other.get_asset_by_id(asset_id)
    assert kept.flow_id == store.flow_id
    assert_frame_equal(kept.object, _big_frame())


def test_gc_keeps_blobs_assets_refer_to(store: StoreInterface) -> None:
    from flowdeck.store.maintenance import collect_garbage

    asset_id = store.save_asset(Dataset(_big_frame(), "kept"))
    orphan = get_storage().blobs.put([b"nobody refers to this" * 10_000])
    flowdeck.delete_run(store.flow_id, user="alice")
    report = collect_garbage(grace_seconds=0)
    assert report.removed >= 1
    assert not get_storage().blobs.exists(orphan.key)
    assert get_storage().blobs.exists(_blob_key(asset_id))
    assert_frame_equal(_store("alice").get_asset_by_id(asset_id).object, _big_frame())


def test_deleting_an_asset_version(store: StoreInterface) -> None:
    from flowdeck.store.assets import delete_asset

    id1 = store.save_asset(Asset(1, "gone", "other"))
    id2 = store.save_asset(Asset(2, "gone", "other"))
    assert delete_asset(id2, user="alice") == 1
    assert [a.id for a in store.get_assets(label="gone")] == [id1]
    assert store.save_asset(Asset(3, "gone", "other")) != id2
    assert [a.version for a in store.get_assets(label="gone")] == [2, 1]
    assert delete_asset(id1, user="alice", all_versions=True) == 2
    assert store.get_assets(label="gone") == []
    with pytest.raises(NotFoundError, match=f"no asset '{id1}' visible to user 'alice'"):
        store.get_asset_by_id(id1)


# --------------------------------------------------------------------------- across processes

_SCORE_SCRIPT = """
import json, sys
import flowdeck, flows_for_assets
flowdeck.configure(**json.loads(sys.argv[1]))
run = flowdeck.start(flows_for_assets.score_flow, user=sys.argv[2])
store = flowdeck.StoreInterface(run.flow_id, user=sys.argv[2])
print(json.dumps({"predictions": store.get_input("predictions", step_name="Score"),
                  "model_id": store.get_input("model_id", step_name="Score")}))
"""


def test_a_model_saved_in_one_run_predicts_in_another_process(deployment: str) -> None:
    flowdeck.add_user("bob", groups=["analysts"])
    train = flowdeck.start(flows_for_assets.train_flow, user="alice")
    model_id = StoreInterface(train.flow_id, user="alice").get_input("model_id", step_name="Train")
    flowdeck.share_asset(model_id, owner="alice", groups=["analysts"])
    model = _store("alice").get_asset_by_id(model_id)
    expected = [int(p) for p in model.predict(flows_for_assets.scoring_data())]
    assert model.linked_assets["training data"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", _SCORE_SCRIPT, json.dumps(_current_settings()), "bob"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {"predictions": expected, "model_id": model_id}
    assert 0 < sum(expected) < len(expected)
