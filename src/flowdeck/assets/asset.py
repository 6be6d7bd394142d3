"""``Asset`` and its kinds: plain objects describing a saved dataset, model, explainer or schema.

An asset pairs an *object* (a DataFrame, an estimator, anything) with catalogue metadata. These
classes know nothing of storage: the catalogue (``flowdeck.store.assets``) rebuilds saved assets
with :meth:`Asset.restore` and hands them a loader so that the object is read on first use only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from flowdeck.assets.types import AssetPersistenceMethod, AssetType, DataEncoding
from flowdeck.errors import FlowdeckError, ValidationError

__all__ = [
    "ASSET_CLASSES",
    "Asset",
    "Dataset",
    "Explainer",
    "Model",
    "Schema",
    "SchemaMismatch",
    "as_typed_asset",
    "asset_class_name",
]

Loader = Callable[[], Any]


class _Missing:
    """Marks an object that has not been loaded yet."""

    def __repr__(self) -> str:
        return "<not loaded>"


_MISSING: Any = _Missing()

# Metadata keys the asset methods maintain (the rest of the metadata is the writer's own).
LINKS_KEY = "linked_assets"
USER_NOTES_KEY = "user_notes"
ENGINEER_NOTES_KEY = "engineer_notes"
CATEGORICAL_KEY = "categorical_columns"
PREDICT_KEY = "predict_columns"

# Attributes the catalogue sets; an extra keyword argument may not take one of these names.
_RESERVED = frozenset(
    {
        "id",
        "asset_id",
        "label",
        "type",
        "name",
        "description",
        "version",
        "metadata",
        "owner",
        "flow_id",
        "step_name",
        "time_created",
        "time_updated",
        "object",
        "extra",
        "time_to_live",
        "data_classification",
        "contains_pii",
        "source_identifier",
        "source_metadata",
    }
)


def _check_label(label: object) -> str:
    if not isinstance(label, str) or not label.strip():
        raise ValidationError(f"an asset label must be a non-empty string, got {label!r}")
    if len(label) > 200:
        raise ValidationError(f"asset label {label[:40]!r}... is longer than 200 characters")
    return label


def _check_name(name: object) -> str | None:
    if name is None or name == "":
        return None
    if not isinstance(name, str):
        raise ValidationError(f"an asset name must be a string or None, got {name!r}")
    if len(name) > 200:
        raise ValidationError(f"asset name {name[:40]!r}... is longer than 200 characters")
    return name


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _from_iso(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


class Asset:
    """A reusable object in the catalogue, with its label, type, name, description and metadata.

    ``Asset(object, label, type, metadata=None, name=None, description=None, version=None, **extra)``;
    ``type`` is an :class:`AssetType` or its name in any case. Extra keyword arguments are kept with
    the metadata and readable as attributes (``Asset(m, "churn", "model", accuracy=0.9).accuracy``).

    After a save (or when read from the catalogue) ``id`` (alias ``asset_id``), ``version``,
    ``owner``, ``flow_id``, ``step_name``, ``time_created`` and ``time_updated`` are set; ``version``
    is always the number the catalogue gave, whatever was passed in. A read asset loads its object
    on first access of ``asset.object`` or ``asset.get_object()``.
    """

    default_type: ClassVar[AssetType | None] = None

    def __init__(
        self,
        object: Any,
        label: str,
        type: AssetType | str,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        version: int | None = None,
        data_classification: str | None = None,
        contains_pii: bool = False,
        source_identifier: str | None = None,
        source_metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Create an asset holding ``object`` (see the class docstring)."""
        extra = kwargs
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ValidationError(f"asset metadata must be a dict, got {metadata.__class__.__name__}")
        clashes = sorted(k for k in extra if k in _RESERVED or k.startswith("_") or hasattr(Asset, k))
        if clashes:
            raise ValidationError(
                f"extra asset arguments {clashes} clash with Asset attributes; put them in metadata={{...}}"
            )
        self._object: Any = object
        self._loader: Loader | None = None
        self._source: Any = None
        self.label: str = _check_label(label)
        self.type: AssetType = AssetType.parse(type)
        self.name: str | None = _check_name(name)
        self.description: str | None = description
        self.version: int | None = version
        self.metadata: dict[str, Any] = {**dict(metadata or {}), **extra}
        self._extra: list[str] = list(extra)
        governance = {
            "data_classification": data_classification,
            "contains_pii": bool(contains_pii),
            "source_identifier": source_identifier,
            "source_metadata": dict(source_metadata) if source_metadata is not None else None,
        }
        for key, value in governance.items():
            if value not in (None, False):
                self.metadata[key] = value
        self.id: str | None = None
        self.owner: str | None = None
        self.flow_id: str | None = None
        self.step_name: str | None = None
        self.time_created: dt.datetime | None = None
        self.time_updated: dt.datetime | None = None

    # --- identity ----------------------------------------------------------------------------

    @property
    def asset_id(self) -> str | None:
        """The id of this version (same as ``id``)."""
        return self.id

    @property
    def extra(self) -> dict[str, Any]:
        """The extra keyword arguments the asset was made with (they live in ``metadata`` too)."""
        return {k: self.metadata.get(k) for k in self._extra}

    def __getattr__(self, attr: str) -> Any:
        # Only reached when normal lookup fails: extra keyword arguments read as attributes.
        if attr.startswith("_"):
            raise AttributeError(attr)
        state = self.__dict__
        if attr in state.get("_extra", ()):
            return state["metadata"].get(attr)
        raise AttributeError(f"{type(self).__name__} {state.get('label')!r} has no attribute {attr!r}")

    def __repr__(self) -> str:
        parts = [f"label={self.label!r}", f"type={self.type.name}"]
        if self.name is not None:
            parts.append(f"name={self.name!r}")
        if self.version is not None:
            parts.append(f"version={self.version}")
        if self.id is not None:
            parts.append(f"id={self.id!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # --- the object --------------------------------------------------------------------------

    @property
    def object(self) -> Any:
        """The asset's object, loaded from the catalogue on first access."""
        if self._object is _MISSING:
            if self._loader is None:
                raise ValidationError(
                    f"asset {self.label!r} (id {self.id!r}) was rebuilt from its description without its "
                    "object; read it from the catalogue with StoreInterface.get_asset_by_id(id)"
                )
            try:
                self._object = self._loader()
            except AttributeError as exc:
                # Raised out of a property, an AttributeError would be taken for a missing attribute.
                raise FlowdeckError(
                    f"the object of asset {self.label!r} (id {self.id!r}) could not be loaded: {exc}"
                ) from exc
        return self._object

    @object.setter
    def object(self, value: Any) -> None:
        self._object = value
        self._source = None

    def get_object(self) -> Any:
        """The asset's object (loaded on first call)."""
        return self.object

    @property
    def is_loaded(self) -> bool:
        """Whether the object is in memory (False for a listed asset until its object is used)."""
        return self._object is not _MISSING

    # --- editing -----------------------------------------------------------------------------

    def set_description(self, description: str | None) -> Asset:
        """Replace the description (saved with the next ``save_asset``)."""
        if description is not None and not isinstance(description, str):
            raise ValidationError(f"a description must be a string, got {description.__class__.__name__}")
        self.description = description
        return self

    def link_asset(self, label: str, asset: Asset | str) -> Asset:
        """Record a link named ``label`` to another saved asset (an ``Asset`` or its id) in the metadata."""
        if not isinstance(label, str) or not label:
            raise ValidationError(f"a link label must be a non-empty string, got {label!r}")
        target = asset.id if isinstance(asset, Asset) else asset
        if not isinstance(target, str) or not target:
            raise ValidationError(
                f"cannot link {label!r} to {asset!r}: it has no id yet; save it with save_asset() first"
            )
        self.metadata.setdefault(LINKS_KEY, {})[label] = target
        return self

    @property
    def linked_assets(self) -> dict[str, str]:
        """Links recorded with :meth:`link_asset`: link label → asset id."""
        return dict(self.metadata.get(LINKS_KEY, {}))

    def add_notes(self, dict_type: str, key: str | None = None, notes: str | None = None) -> Asset:
        """Add notes to the ``"user"`` or ``"engineer"`` notes.

        With ``key`` and ``notes`` the pair is kept under ``key`` (see ``keyed_notes``); with only
        one of them, that text is appended to the notes log.
        """
        kinds = {"user": USER_NOTES_KEY, "engineer": ENGINEER_NOTES_KEY, USER_NOTES_KEY: USER_NOTES_KEY}
        kinds[ENGINEER_NOTES_KEY] = ENGINEER_NOTES_KEY
        target = kinds.get(dict_type)
        if target is None:
            raise ValidationError(f"dict_type must be 'user' or 'engineer', got {dict_type!r}")
        if key is not None and notes is not None:
            if not isinstance(key, str) or not key:
                raise ValidationError(f"a notes key must be a non-empty string, got {key!r}")
            self.metadata.setdefault(f"{target}_by_key", {})[key] = _check_note(notes)
            return self
        text = notes if notes is not None else key
        self.metadata.setdefault(target, []).append(_check_note(text))
        return self

    def add_user_notes(self, key: str | None = None, notes: str | None = None) -> Asset:
        """Add notes meant for the people who use the asset (see :meth:`add_notes`)."""
        return self.add_notes("user", key, notes)

    def add_engineer_notes(self, key: str | None = None, notes: str | None = None) -> Asset:
        """Add notes meant for the people who maintain the asset (see :meth:`add_notes`)."""
        return self.add_notes("engineer", key, notes)

    def keyed_notes(self, dict_type: str = "user") -> dict[str, str]:
        """The notes added with a key, for ``"user"`` or ``"engineer"``."""
        target = USER_NOTES_KEY if dict_type == "user" else ENGINEER_NOTES_KEY
        return dict(self.metadata.get(f"{target}_by_key", {}))

    def set_time_to_live(self, time_to_live: int | float | dt.timedelta | None) -> None:
        """Record how long (seconds or a timedelta; None for ever) the asset should be kept."""
        if isinstance(time_to_live, dt.timedelta):
            time_to_live = time_to_live.total_seconds()
        if time_to_live is not None and (
            isinstance(time_to_live, bool) or not isinstance(time_to_live, int | float) or time_to_live <= 0
        ):
            raise ValidationError(f"time_to_live must be a number of seconds > 0 or None, got {time_to_live!r}")
        if time_to_live is None:
            self.metadata.pop("time_to_live", None)
        else:
            self.metadata["time_to_live"] = time_to_live

    @property
    def time_to_live(self) -> float | None:
        """Seconds the asset should be kept (None: for ever)."""
        return self.metadata.get("time_to_live")

    @property
    def data_classification(self) -> str | None:
        """The data classification the asset was given."""
        return self.metadata.get("data_classification")

    @property
    def contains_pii(self) -> bool:
        """Whether the asset was marked as holding personal data."""
        return bool(self.metadata.get("contains_pii", False))

    @property
    def source_identifier(self) -> str | None:
        """Where the asset's data came from."""
        return self.metadata.get("source_identifier")

    @property
    def source_metadata(self) -> dict[str, Any] | None:
        """Details of where the asset's data came from."""
        return self.metadata.get("source_metadata")

    @property
    def linked_asset_objects(self) -> dict[str, str]:
        """Links recorded with :meth:`link_asset` (same as ``linked_assets``)."""
        return self.linked_assets

    @classmethod
    def from_metadata(cls, asset_metadata: Mapping[str, Any], asset_object: Any, training_data: Any = None) -> Asset:
        """An asset rebuilt from its description (``to_json()``) with its object."""
        asset = cls.from_json(asset_metadata)
        asset.object = asset_object
        if training_data is not None:
            asset.metadata["training_data"] = training_data
        return asset

    def to_bytes(self, serialization_method: AssetPersistenceMethod) -> bytes:
        """The object as bytes written with ``serialization_method`` (frames as CSV, Excel, Parquet...)."""
        import io
        import json
        import pickle

        import pandas as pd

        method = AssetPersistenceMethod(serialization_method)
        value = self.object
        if method is AssetPersistenceMethod.BYTES:
            if not isinstance(value, bytes | bytearray):
                raise ValidationError(f"asset {self.label!r} holds {type(value).__name__}, not bytes")
            return bytes(value)
        if method is AssetPersistenceMethod.PICKLE:
            return pickle.dumps(value)
        if method is AssetPersistenceMethod.JSON:
            if isinstance(value, pd.DataFrame | pd.Series):
                return value.to_json(orient="split", date_format="iso").encode()
            return json.dumps(value).encode()
        if isinstance(value, pd.Series):
            value = value.to_frame()
        if not isinstance(value, pd.DataFrame):
            raise ValidationError(
                f"asset {self.label!r} holds {type(value).__name__}; {method.value} needs a DataFrame"
            )
        buffer = io.BytesIO()
        if method is AssetPersistenceMethod.CSV:
            value.to_csv(buffer, index=False)
        elif method is AssetPersistenceMethod.EXCEL:
            value.to_excel(buffer, index=False)
        else:
            value.to_parquet(buffer)
        return buffer.getvalue()

    @staticmethod
    def from_bytes(
        payload: bytes, encrypted: bool, serialization_method: AssetPersistenceMethod, asset_type: Any
    ) -> Any:
        """The object written by :meth:`to_bytes`. Pickles are refused: unsigned pickles can run code."""
        import io
        import json

        import pandas as pd

        if encrypted:
            raise ValidationError("encrypted payloads are read through the asset catalogue, not from_bytes")
        method = AssetPersistenceMethod(serialization_method)
        if method is AssetPersistenceMethod.PICKLE:
            raise ValidationError(
                "from_bytes refuses pickles: an unsigned pickle can run any code when loaded; "
                "read the asset through StoreInterface.get_asset, which checks its signature"
            )
        if method is AssetPersistenceMethod.BYTES:
            return bytes(payload)
        if method is AssetPersistenceMethod.JSON:
            data = json.loads(payload)
            if AssetType.parse(asset_type) is AssetType.DATASET and isinstance(data, dict) and "columns" in data:
                return pd.read_json(io.BytesIO(payload), orient="split")
            return data
        if method is AssetPersistenceMethod.CSV:
            return pd.read_csv(io.BytesIO(payload))
        if method is AssetPersistenceMethod.EXCEL:
            return pd.read_excel(io.BytesIO(payload))
        return pd.read_parquet(io.BytesIO(payload))

    @property
    def user_notes(self) -> list[str]:
        """Notes added with :meth:`add_user_notes`, oldest first."""
        return list(self.metadata.get(USER_NOTES_KEY, []))

    @property
    def engineer_notes(self) -> list[str]:
        """Notes added with :meth:`add_engineer_notes`, oldest first."""
        return list(self.metadata.get(ENGINEER_NOTES_KEY, []))

    # --- (de)serialising the description -----------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The asset's description as a JSON-safe dict (the object is not included)."""
        return {
            "asset_class": asset_class_name(self),
            "id": self.id,
            "label": self.label,
            "type": self.type.value,
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "metadata": self.metadata,
            "extra": list(self._extra),
            "owner": self.owner,
            "flow_id": self.flow_id,
            "step_name": self.step_name,
            "time_created": _iso(self.time_created),
            "time_updated": _iso(self.time_updated),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Asset:
        """An asset rebuilt from :meth:`to_json` (without its object)."""
        return Asset.restore(
            str(document.get("asset_class", cls.__name__)),
            id=document.get("id"),
            label=document["label"],
            type=AssetType.parse(document["type"]),
            name=document.get("name"),
            description=document.get("description"),
            version=document.get("version"),
            metadata=dict(document.get("metadata") or {}),
            extra=list(document.get("extra") or []),
            owner=document.get("owner"),
            flow_id=document.get("flow_id"),
            step_name=document.get("step_name"),
            time_created=_from_iso(document.get("time_created")),
            time_updated=_from_iso(document.get("time_updated")),
        )

    @staticmethod
    def restore(
        asset_class: str,
        *,
        id: str | None,
        label: str,
        type: AssetType,
        name: str | None,
        description: str | None,
        version: int | None,
        metadata: dict[str, Any],
        extra: list[str],
        owner: str | None,
        flow_id: str | None,
        step_name: str | None,
        time_created: dt.datetime | None,
        time_updated: dt.datetime | None,
        loader: Loader | None = None,
        source: Any = None,
    ) -> Asset:
        """Rebuild a saved asset from its stored description; its object loads through ``loader``.

        ``asset_class`` names the class (``Asset``, ``Dataset``, ``Model``, ``Explainer``,
        ``Schema``); ``source`` is an opaque token the catalogue keeps to re-save the unchanged
        object without loading it.
        """
        cls = ASSET_CLASSES.get(asset_class, Asset)
        asset = cls.__new__(cls)
        # Bypasses __init__: the stored description was validated when it was saved.
        asset.__dict__.update(
            _object=_MISSING,
            _loader=loader,
            _source=source,
            label=label,
            type=type,
            name=name or None,
            description=description,
            version=version,
            metadata=metadata,
            _extra=extra,
            id=id,
            owner=owner,
            flow_id=flow_id,
            step_name=step_name,
            time_created=time_created,
            time_updated=time_updated,
        )
        return asset


def _check_note(notes: object) -> str:
    if not isinstance(notes, str) or not notes.strip():
        raise ValidationError(f"notes must be a non-empty string, got {notes!r}")
    return notes


def _columns_of(frame: Any) -> list[str] | None:
    columns = getattr(frame, "columns", None)
    return [str(c) for c in columns] if columns is not None else None


ENCODING_KEY = "encoding"
ONE_HOT_KEY = "one_hot_dict"
CAT_TO_VALS_KEY = "cat_to_vals"


class Dataset(Asset):
    """A DataFrame asset, with column roles and the encoding of its categorical columns.

    ``categorical_cols`` hold categories; ``predict_cols`` are the columns a model uses (the
    frame can be filtered to them). ``encoding`` says how the frame writes its categories:
    ``ordinal`` (integer codes into ``cat_to_vals[col]``), ``one_hot`` (indicator columns
    ``one_hot_dict[col]``, one per value of ``cat_to_vals[col]``) or ``verbose`` (the values).
    ``categorical_columns=`` and ``predict_columns=`` are accepted as older names.
    """

    default_type = AssetType.DATASET

    def __init__(
        self,
        dataset: Any,
        label: str,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
        encoding: str | DataEncoding = "ordinal",
        one_hot_dict: dict[str, list[str]] | None = None,
        cat_to_vals: dict[str, list[Any]] | None = None,
        categorical_cols: list[str] | None = None,
        predict_cols: list[str] | None = None,
        description: str | None = None,
        version: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Create a dataset asset of the frame ``dataset``."""
        categorical_cols = kwargs.pop("categorical_columns", categorical_cols)
        predict_cols = kwargs.pop("predict_columns", predict_cols)
        super().__init__(dataset, label, AssetType.DATASET, metadata, name, description, version, **kwargs)
        self.initialize_encodings(encoding, one_hot_dict, cat_to_vals, categorical_cols)
        self.initialize_filters(predict_cols)

    # --- roles -----------------------------------------------------------------------------------
    @property
    def categorical_columns(self) -> list[str]:
        """Columns holding categories."""
        return list(self.metadata.get(CATEGORICAL_KEY, []))

    categorical_cols = categorical_columns

    @property
    def predict_columns(self) -> list[str]:
        """Columns a model uses (filtering keeps these)."""
        return list(self.metadata.get(PREDICT_KEY, []))

    predict_cols = predict_columns

    @property
    def encoding(self) -> DataEncoding:
        """How the frame writes its categorical columns."""
        return DataEncoding(self.metadata.get(ENCODING_KEY, "ordinal"))

    @property
    def one_hot_dict(self) -> dict[str, list[str]]:
        """Categorical column → its indicator columns (one-hot encoding)."""
        return {k: list(v) for k, v in self.metadata.get(ONE_HOT_KEY, {}).items()}

    @property
    def cat_to_vals(self) -> dict[str, list[Any]]:
        """Categorical column → its values, in code order."""
        return {k: list(v) for k, v in self.metadata.get(CAT_TO_VALS_KEY, {}).items()}

    @property
    def default_encoding(self) -> DataEncoding:
        """The encoding the frame was given in (same as ``encoding``)."""
        return self.encoding

    @property
    def categorical_names(self) -> list[str]:
        """The categorical columns."""
        return self.categorical_columns

    @property
    def one_hot_conversion_allowed(self) -> bool:
        """Whether the categories are known, so the frame can be written one-hot."""
        return all(column in self.cat_to_vals for column in self.categorical_columns)

    verbose_conversion_allowed = one_hot_conversion_allowed

    @property
    def predict_cols_ordinal(self) -> list[str]:
        """The predict columns as ordinal-encoded column names."""
        return self.predict_columns

    predict_cols_verbose = predict_cols_ordinal

    @property
    def predict_cols_one_hot(self) -> list[str]:
        """The predict columns as one-hot column names."""
        out: list[str] = []
        for column in self.predict_columns:
            if column in self.categorical_columns and column in self.cat_to_vals:
                out.extend(self._one_hot_names(column, self.cat_to_vals[column]))
            else:
                out.append(column)
        return out

    @property
    def filtering_allowed(self) -> bool:
        """Whether the frame can be filtered to ``predict_cols``."""
        return bool(self.metadata.get(PREDICT_KEY))

    def set_categorical_columns(self, columns: Iterable[str]) -> Dataset:
        """Mark ``columns`` as categorical (they must be columns of the frame)."""
        self.metadata[CATEGORICAL_KEY] = self._known_columns(columns, "categorical")
        return self

    def set_predict_columns(self, columns: Iterable[str]) -> Dataset:
        """Mark ``columns`` as the ones a model uses (they must be columns of the frame)."""
        self.metadata[PREDICT_KEY] = self._known_columns(columns, "predict")
        return self

    def initialize_encodings(
        self,
        encoding: str | DataEncoding,
        one_hot_dict: dict[str, list[str]] | None = None,
        cat_to_vals: dict[str, list[Any]] | None = None,
        categorical_cols: list[str] | None = None,
    ) -> None:
        """Record the frame's encoding and its categories (see the class docstring)."""
        chosen = DataEncoding.validate(encoding, return_none=False)
        self.metadata[ENCODING_KEY] = chosen.value  # type: ignore[union-attr]
        if one_hot_dict is not None:
            self.metadata[ONE_HOT_KEY] = {str(k): [str(c) for c in v] for k, v in one_hot_dict.items()}
        if cat_to_vals is not None:
            self.metadata[CAT_TO_VALS_KEY] = {str(k): list(v) for k, v in cat_to_vals.items()}
        if categorical_cols is not None:
            self.set_categorical_columns(categorical_cols)
        elif cat_to_vals is not None:
            self.metadata[CATEGORICAL_KEY] = list(self.metadata[CAT_TO_VALS_KEY])

    def initialize_filters(self, predict_cols: Iterable[str] | None) -> None:
        """Record the columns a model uses (None: no filtering)."""
        if predict_cols is not None:
            self.set_predict_columns(predict_cols)

    def check_valid_encoding(self, encoding: str | DataEncoding | None = None) -> DataEncoding:
        """``encoding`` as a DataEncoding (the dataset's own when None); ValidationError if unknown."""
        if encoding is None:
            return self.encoding
        return DataEncoding.validate(encoding, return_none=False)  # type: ignore[return-value]

    def get_categorical_names(self, predict_cols: bool = False) -> list[str]:
        """The categorical columns (only those also in ``predict_cols`` when asked)."""
        names = self.categorical_columns
        return [n for n in names if n in self.predict_columns] if predict_cols else names

    def filter_data(self, X: Any, encoding: str | DataEncoding | None = None) -> Any:
        """``X`` with only the columns a model uses (in ``encoding``'s column names)."""
        if not self.filtering_allowed:
            raise ValidationError(f"dataset {self.label!r} has no predict_cols to filter by")
        wanted: list[str] = []
        one_hot = self.check_valid_encoding(encoding) is DataEncoding.ONE_HOT
        for column in self.predict_columns:
            if one_hot and column in self.one_hot_dict:
                wanted.extend(self.one_hot_dict[column])
            else:
                wanted.append(column)
        missing = [c for c in wanted if c not in X.columns]
        if missing:
            raise ValidationError(f"the frame lacks the predict columns {missing} of dataset {self.label!r}")
        return X[wanted]

    def convert_dtypes(self, X: Any) -> Any:
        """``X`` with the dtypes of this dataset's frame, for the columns both have."""
        dtypes = {c: t for c, t in self.object.dtypes.items() if c in X.columns}
        return X.astype(dtypes)

    def _categories(self, column: str) -> list[Any]:
        values = self.cat_to_vals.get(column)
        if values is None:
            raise ValidationError(
                f"dataset {self.label!r} has no cat_to_vals for column {column!r}; "
                "pass cat_to_vals={column: [values...]} to convert encodings"
            )
        return values

    def _one_hot_names(self, column: str, values: list[Any]) -> list[str]:
        """The indicator columns of ``column``: from ``one_hot_dict``, else ``column_value``."""
        return self.one_hot_dict.get(column) or [f"{column}_{value}" for value in values]

    def _to_verbose(self, X: Any, source: DataEncoding) -> Any:
        import pandas as pd

        out = X.copy()
        for column in self.categorical_columns:
            values = self._categories(column)
            if source is DataEncoding.ORDINAL and column in out.columns:
                out[column] = out[column].map(lambda code, v=values: v[int(code)] if pd.notna(code) else None)
            elif source is DataEncoding.ONE_HOT:
                indicators = self._one_hot_names(column, values)
                position = list(out.columns).index(indicators[0])
                chosen = out[indicators].to_numpy().argmax(axis=1)
                out = out.drop(columns=indicators)
                out.insert(position, column, [values[i] for i in chosen])
        return out

    def _from_verbose(self, X: Any, target: DataEncoding) -> Any:
        out = X.copy()
        for column in self.categorical_columns:
            if column not in out.columns:
                continue
            values = self._categories(column)
            if target is DataEncoding.ORDINAL:
                codes = {value: code for code, value in enumerate(values)}
                out[column] = out[column].map(codes)
            elif target is DataEncoding.ONE_HOT:
                names = self._one_hot_names(column, values)
                position = list(out.columns).index(column)
                data = out.pop(column)
                for offset, (name, value) in enumerate(zip(names, values, strict=True)):
                    out.insert(position + offset, name, (data == value).astype("int64"))
        return out

    def convert_encoding(
        self,
        X: Any,
        from_: str | DataEncoding | None = None,
        to_: str | DataEncoding | None = None,
        filter: bool = False,
    ) -> Any:
        """``X`` converted from encoding ``from_`` (default: the dataset's) to ``to_`` (default: same)."""
        source = self.check_valid_encoding(from_)
        target = self.check_valid_encoding(to_) if to_ is not None else source
        out = X if source is target else self._from_verbose(self._to_verbose(X, source), target)
        return self.filter_data(out, target) if filter else out

    def get_as_encoding(self, encoding: str | DataEncoding | None = None, filter: bool = False) -> Any:
        """The dataset's frame in ``encoding`` (optionally only the predict columns)."""
        return self.convert_encoding(self.object, None, encoding, filter)

    def _known_columns(self, columns: Iterable[str], role: str) -> list[str]:
        chosen = [columns] if isinstance(columns, str) else list(columns)
        if not all(isinstance(c, str) for c in chosen):
            raise ValidationError(f"{role} columns of dataset {self.label!r} must be column names (strings)")
        available = _columns_of(self._object) if self.is_loaded else None
        if available is not None:
            unknown = [c for c in chosen if c not in available]
            if unknown:
                raise ValidationError(
                    f"dataset {self.label!r} has no columns {unknown} to mark as {role}; its columns are {available}"
                )
        return chosen


class Model(Asset):
    """A trained model (any estimator); attribute access passes through to it (``model.predict(X)``).

    Calls made through the asset are timed: :meth:`get_time` and :meth:`get_recent_time`.
    """

    default_type = AssetType.MODEL

    def __init__(
        self,
        model: Any,
        label: str,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        version: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Create a model asset of the estimator ``model``."""
        super().__init__(model, label, AssetType.MODEL, metadata, name, description, version, **kwargs)

    def _times(self) -> dict[str, float]:
        return self.__dict__.setdefault("_call_times", {})

    def get_time(self, attr: str) -> str | None:
        """Seconds the last call of ``attr`` through the asset took (as text), or None."""
        seconds = self._times().get(attr)
        return None if seconds is None else f"{seconds:.6f}"

    def get_recent_time(self) -> float | None:
        """Seconds the most recent timed call took, or None."""
        recent = self.__dict__.get("_recent_call")
        return None if recent is None else self._times().get(recent)

    def get_all_metainfo(self) -> dict[str, Any]:
        """The model's metadata: its class, parameters (``get_params()``) and call times."""
        estimator = self.object
        params: Any = None
        if hasattr(estimator, "get_params"):
            try:
                params = estimator.get_params()
            except TypeError:
                params = None
        return {
            "model_class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
            "hyperparameters": params,
            "times": dict(self._times()),
        }

    def update_model_notes(self) -> None:
        """Record :meth:`get_all_metainfo` in the metadata (saved with the next ``save_asset``)."""
        from flowdeck.elements.base import to_jsonable

        self.metadata["model_info"] = to_jsonable(self.get_all_metainfo())

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_") or attr == "object":
            raise AttributeError(attr)
        try:
            return super().__getattr__(attr)
        except AttributeError:
            pass
        estimator = self.object
        try:
            found = getattr(estimator, attr)
        except AttributeError:
            raise AttributeError(
                f"Model {self.label!r}: neither the asset nor its {type(estimator).__name__} has attribute {attr!r}"
            ) from None
        if not callable(found):
            return found

        def timed(*args: Any, **kwargs: Any) -> Any:
            import time

            started = time.perf_counter()
            try:
                return found(*args, **kwargs)
            finally:
                self._times()[attr] = time.perf_counter() - started
                self.__dict__["_recent_call"] = attr

        return timed


class Explainer(Asset):
    """An explainer (SHAP, LIME, ... objects) of a model."""

    default_type = AssetType.EXPLAINER

    def __init__(
        self,
        object: Any,
        label: str,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        version: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(object, label, AssetType.EXPLAINER, metadata, name, description, version, **extra)


@dataclass(frozen=True)
class SchemaMismatch:
    """One way a frame differs from a schema: a ``missing``, ``unexpected`` or wrong-``dtype`` column."""

    column: str
    problem: str
    expected: str | None
    found: str | None

    def __str__(self) -> str:
        if self.problem == "missing":
            return f"column {self.column!r} is missing (expected dtype {self.expected})"
        if self.problem == "unexpected":
            return f"column {self.column!r} is not in the schema (dtype {self.found})"
        return f"column {self.column!r} has dtype {self.found}, expected {self.expected}"


def _dtype_name(dtype: Any) -> str:
    import pandas as pd

    if isinstance(dtype, str):
        try:
            return str(pd.api.types.pandas_dtype(dtype))
        except TypeError:
            return dtype
    try:
        return str(pd.api.types.pandas_dtype(dtype))
    except TypeError as exc:
        raise ValidationError(f"{dtype!r} is not a dtype pandas knows") from exc


def _schema_columns(spec: Any) -> dict[str, str]:
    """Column name → dtype name, from a dict, a DataFrame, ``frame.dtypes`` or (name, dtype) pairs."""
    import pandas as pd

    if isinstance(spec, pd.DataFrame):
        spec = spec.dtypes
    if isinstance(spec, pd.Series):
        spec = dict(spec.items())
    if isinstance(spec, Mapping):
        pairs = list(spec.items())
    elif isinstance(spec, Iterable) and not isinstance(spec, str | bytes):
        pairs = [tuple(p) for p in spec]
        if not all(len(p) == 2 for p in pairs):
            raise ValidationError("a schema given as a list needs (column, dtype) pairs")
    else:
        raise ValidationError(
            f"a Schema is made from a dict of column → dtype, a DataFrame or (column, dtype) pairs, "
            f"not {type(spec).__name__}"
        )
    return {str(column): _dtype_name(dtype) for column, dtype in pairs}


class Schema(Asset):
    """The column names and dtypes a frame should have, and optionally the values it may hold.

    ``schema`` is ``frame.dtypes`` (a Series), a dict of column → dtype, a DataFrame or
    (column, dtype) pairs. :meth:`validate` returns True or raises ValidationError naming every
    difference: missing columns, other dtypes, extra columns (with ``exact_match``) and values not
    in ``valid_inputs[column]``. :meth:`mismatches` lists the column differences instead.
    """

    default_type = AssetType.SCHEMA

    def __init__(
        self,
        schema: Any = None,
        exact_match: bool = False,
        valid_inputs: dict[str, list[Any]] | None = None,
        label: str | None = None,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        version: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Create a schema asset (label ``"schema"`` unless given)."""
        if not isinstance(exact_match, bool):
            raise ValidationError(
                f"Schema exact_match must be True or False, got {exact_match!r} "
                "(the label is the fourth argument: Schema(schema, label=...))"
            )
        super().__init__(
            _schema_columns({} if schema is None else schema),
            label if label is not None else "schema",
            AssetType.SCHEMA,
            metadata,
            name,
            description,
            version,
            **kwargs,
        )
        self.metadata["exact_match"] = exact_match
        if valid_inputs is not None:
            if not isinstance(valid_inputs, Mapping):
                raise ValidationError(f"valid_inputs must be a dict of column → values, got {valid_inputs!r}")
            self.metadata["valid_inputs"] = {str(k): list(v) for k, v in valid_inputs.items()}

    @classmethod
    def from_frame(cls, frame: Any, label: str = "schema", **kwargs: Any) -> Schema:
        """The schema of ``frame`` (its columns and their dtypes); ``kwargs`` as for ``Schema``."""
        return cls(_schema_columns(frame), label=label, **kwargs)

    @property
    def exact_match(self) -> bool:
        """Whether a frame may hold columns the schema does not name."""
        return bool(self.metadata.get("exact_match", False))

    @property
    def valid_inputs(self) -> dict[str, list[Any]] | None:
        """Column → the values it may hold, or None."""
        return self.metadata.get("valid_inputs")

    @property
    def do_level_2(self) -> bool:
        """Whether :meth:`validate` also checks values (``valid_inputs`` given)."""
        return bool(self.valid_inputs)

    @property
    def col_to_dtype(self) -> dict[str, str]:
        """Column name → dtype name (same as ``dtypes``)."""
        return self.dtypes

    @property
    def dtypes(self) -> dict[str, str]:
        """Column name → dtype name, in column order."""
        return dict(self.object)

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return list(self.object)

    def mismatches(self, frame: Any, *, allow_extra_columns: bool | None = None) -> list[SchemaMismatch]:
        """How ``frame``'s columns differ from the schema (an empty list when they conform).

        Extra columns count unless ``allow_extra_columns`` (default: ``not exact_match``).
        """
        if allow_extra_columns is None:
            allow_extra_columns = not self.exact_match
        found = _schema_columns(frame)
        out = []
        for column, expected in self.dtypes.items():
            if column not in found:
                out.append(SchemaMismatch(column, "missing", expected, None))
            elif found[column] != expected:
                out.append(SchemaMismatch(column, "dtype", expected, found[column]))
        if not allow_extra_columns:
            known = self.dtypes
            out.extend(
                SchemaMismatch(column, "unexpected", None, dtype)
                for column, dtype in found.items()
                if column not in known
            )
        return out

    def validate_level_1(self, df: Any) -> bool:
        """True when ``df``'s columns and dtypes conform; ValidationError naming each difference."""
        problems = self.mismatches(df)
        if problems:
            raise ValidationError(
                f"the frame does not match schema {self.label!r}: " + "; ".join(str(p) for p in problems)
            )
        return True

    def validate_level_2(self, df: Any) -> bool:
        """True when every column in ``valid_inputs`` holds only its valid values; ValidationError if not."""
        problems = []
        for column, allowed in (self.valid_inputs or {}).items():
            if column not in df.columns:
                continue
            bad = sorted({str(v) for v in df[column].dropna().unique() if v not in allowed})
            if bad:
                problems.append(f"column {column!r} holds {bad}, not among {allowed}")
        if problems:
            raise ValidationError(f"the frame does not match schema {self.label!r}: " + "; ".join(problems))
        return True

    def validate(self, df: Any) -> bool:
        """True when ``df`` conforms (columns, dtypes and valid values); ValidationError otherwise."""
        self.validate_level_1(df)
        if self.do_level_2:
            self.validate_level_2(df)
        return True

    def convert_strings_to_dtype(self, arr: Any) -> Any:
        """``arr`` (text values, one per schema column) converted to the schema's dtypes."""
        import pandas as pd

        values = list(arr)
        if len(values) != len(self.dtypes):
            raise ValidationError(f"expected {len(self.dtypes)} values for schema {self.label!r}, got {len(values)}")
        return [
            pd.Series([value]).astype(dtype).iloc[0] for value, dtype in zip(values, self.dtypes.values(), strict=True)
        ]


ASSET_CLASSES: dict[str, type[Asset]] = {
    "Asset": Asset,
    "Dataset": Dataset,
    "Model": Model,
    "Explainer": Explainer,
    "Schema": Schema,
}


_CLASS_OF_TYPE: dict[AssetType, str] = {
    AssetType.MODEL: "Model",
    AssetType.DATASET: "Dataset",
    AssetType.EXPLAINER: "Explainer",
    AssetType.SCHEMA: "Schema",
}


def as_typed_asset(asset: Asset) -> Asset:
    """``asset`` as the class of its type (a plain ``Asset(..., AssetType.MODEL)`` read back as a Model).

    Only a plain Asset is changed; the subclasses add behaviour, not state, so the object is kept.
    """
    wanted = ASSET_CLASSES.get(_CLASS_OF_TYPE.get(asset.type, "Asset"), Asset)
    if type(asset) is Asset and wanted is not Asset:
        asset.__class__ = wanted
    return asset


def asset_class_name(asset: Asset) -> str:
    """The name of the nearest flowdeck asset class of ``asset`` (a writer's subclass maps to its base)."""
    for klass in type(asset).__mro__:
        if ASSET_CLASSES.get(klass.__name__) is klass:
            return klass.__name__
    return "Asset"
