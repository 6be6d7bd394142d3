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

from flowdeck.assets.types import AssetType
from flowdeck.errors import FlowdeckError, ValidationError

__all__ = [
    "ASSET_CLASSES",
    "Asset",
    "Dataset",
    "Explainer",
    "Model",
    "Schema",
    "SchemaMismatch",
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
    {"id", "asset_id", "label", "type", "name", "description", "version", "metadata", "owner", "flow_id",
     "step_name", "time_created", "time_updated", "object", "extra"}
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
        **extra: Any,
    ) -> None:
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

    def add_user_notes(self, notes: str) -> Asset:
        """Append notes meant for the people who use the asset."""
        self.metadata.setdefault(USER_NOTES_KEY, []).append(_check_note(notes))
        return self

    def add_engineer_notes(self, notes: str) -> Asset:
        """Append notes meant for the people who maintain the asset."""
        self.metadata.setdefault(ENGINEER_NOTES_KEY, []).append(_check_note(notes))
        return self

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


class Dataset(Asset):
    """A DataFrame asset, with column roles: categorical columns and columns to predict.

    ``Dataset(frame, label, metadata=None, name=None, description=None, version=None,
    categorical_columns=None, predict_columns=None, **extra)``.
    """

    default_type = AssetType.DATASET

    def __init__(
        self,
        object: Any,
        label: str,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        version: int | None = None,
        *,
        categorical_columns: Iterable[str] | None = None,
        predict_columns: Iterable[str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(object, label, AssetType.DATASET, metadata, name, description, version, **extra)
        if categorical_columns is not None:
            self.set_categorical_columns(categorical_columns)
        if predict_columns is not None:
            self.set_predict_columns(predict_columns)

    @property
    def categorical_columns(self) -> list[str]:
        """Columns holding categories."""
        return list(self.metadata.get(CATEGORICAL_KEY, []))

    @property
    def predict_columns(self) -> list[str]:
        """Columns a model predicts (the targets)."""
        return list(self.metadata.get(PREDICT_KEY, []))

    def set_categorical_columns(self, columns: Iterable[str]) -> Dataset:
        """Mark ``columns`` as categorical (they must be columns of the frame)."""
        self.metadata[CATEGORICAL_KEY] = self._known_columns(columns, "categorical")
        return self

    def set_predict_columns(self, columns: Iterable[str]) -> Dataset:
        """Mark ``columns`` as the ones to predict (they must be columns of the frame)."""
        self.metadata[PREDICT_KEY] = self._known_columns(columns, "predict")
        return self

    def _known_columns(self, columns: Iterable[str], role: str) -> list[str]:
        chosen = [columns] if isinstance(columns, str) else list(columns)
        if not all(isinstance(c, str) for c in chosen):
            raise ValidationError(f"{role} columns of dataset {self.label!r} must be column names (strings)")
        available = _columns_of(self._object) if self.is_loaded else None
        if available is not None:
            unknown = [c for c in chosen if c not in available]
            if unknown:
                raise ValidationError(
                    f"dataset {self.label!r} has no columns {unknown} to mark as {role}; "
                    f"its columns are {available}"
                )
        return chosen


class Model(Asset):
    """A trained model (any estimator); attribute access passes through to it (``model.predict(X)``)."""

    default_type = AssetType.MODEL

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
        super().__init__(object, label, AssetType.MODEL, metadata, name, description, version, **extra)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_") or attr == "object":
            raise AttributeError(attr)
        try:
            return super().__getattr__(attr)
        except AttributeError:
            pass
        estimator = self.object
        try:
            return getattr(estimator, attr)
        except AttributeError:
            raise AttributeError(
                f"Model {self.label!r}: neither the asset nor its {type(estimator).__name__} has "
                f"attribute {attr!r}"
            ) from None


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
    """The column names and dtypes a frame should have; :meth:`validate` lists how a frame differs.

    The object is a dict of column → dtype name; a DataFrame, ``frame.dtypes`` or (column, dtype)
    pairs are accepted and turned into one. ``Schema.from_frame(df)`` takes them from a frame.
    """

    default_type = AssetType.SCHEMA

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
        super().__init__(
            _schema_columns(object), label, AssetType.SCHEMA, metadata, name, description, version, **extra
        )

    @classmethod
    def from_frame(cls, frame: Any, label: str = "schema", **kwargs: Any) -> Schema:
        """The schema of ``frame`` (its columns and their dtypes); ``kwargs`` as for ``Schema``."""
        return cls(_schema_columns(frame), label, **kwargs)

    @property
    def dtypes(self) -> dict[str, str]:
        """Column name → dtype name, in column order."""
        return dict(self.object)

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return list(self.object)

    def validate(self, frame: Any, *, allow_extra_columns: bool = False) -> list[SchemaMismatch]:
        """How ``frame`` differs from the schema (an empty list when it conforms).

        Reports columns that are missing or have another dtype, and columns the schema does not
        name unless ``allow_extra_columns``.
        """
        found = _schema_columns(frame)
        mismatches = []
        for column, expected in self.dtypes.items():
            if column not in found:
                mismatches.append(SchemaMismatch(column, "missing", expected, None))
            elif found[column] != expected:
                mismatches.append(SchemaMismatch(column, "dtype", expected, found[column]))
        if not allow_extra_columns:
            known = self.dtypes
            mismatches.extend(
                SchemaMismatch(column, "unexpected", None, dtype) for column, dtype in found.items()
                if column not in known
            )
        return mismatches


ASSET_CLASSES: dict[str, type[Asset]] = {
    "Asset": Asset,
    "Dataset": Dataset,
    "Model": Model,
    "Explainer": Explainer,
    "Schema": Schema,
}


def asset_class_name(asset: Asset) -> str:
    """The name of the nearest flowdeck asset class of ``asset`` (a writer's subclass maps to its base)."""
    for klass in type(asset).__mro__:
        if ASSET_CLASSES.get(klass.__name__) is klass:
            return klass.__name__
    return "Asset"
