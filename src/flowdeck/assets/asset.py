"""``Asset`` and its kinds: plain objects describing a saved dataset, model, explainer or schema.

An asset pairs an *object* (a DataFrame, an estimator, anything) with catalogue metadata. These
classes know nothing of storage: the catalogue (``flowdeck.store.assets``) rebuilds saved assets
with :meth:`Asset.restore` and hands them a loader so that the object is read on first use only.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from flowdeck.assets.types import AssetPersistenceMethod, AssetType, DataEncoding
from flowdeck.errors import FlowdeckError, UnsupportedTypeError, ValidationError

__all__ = [
    "ASSET_CLASSES",
    "Asset",
    "AssetNotes",
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


def _flag(value: Any, name: str, owner: str, *, allow_none: bool = True, hint: str = "") -> bool:
    """``value`` as a bool, checked by the elements' ``check_bool`` (True or False, else ValidationError)."""
    if value is True or value is False:
        return value
    # Imported only for other values: importing the assets does not import numpy, pandas or the elements.
    from flowdeck.elements.base import check_bool

    return check_bool(value, name, owner, allow_none=allow_none, hint=hint)


def _persistence_method(method: Any, what: str) -> AssetPersistenceMethod:
    """The AssetPersistenceMethod ``method`` is or names; a ValidationError listing the methods otherwise."""
    try:
        return AssetPersistenceMethod(getattr(method, "value", method))
    except ValueError:
        valid = [m.value for m in AssetPersistenceMethod]
        raise ValidationError(
            f"{what}: unknown serialization_method {method!r}; use one of {valid} "
            "(an AssetPersistenceMethod or its value)"
        ) from None


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


def _object_keyword(init: Callable[..., None]) -> Callable[..., None]:
    """Let an asset class's first argument be passed as ``object=`` too, the name DESIGN gives it.

    ``Dataset(object=df, label=...)`` and ``Dataset(dataset=df, label=...)`` are the same call; the
    signature shown stays the SDK's.
    """
    first = list(inspect.signature(init).parameters)[1]

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        if "object" in kwargs and not args:
            if first in kwargs:
                raise TypeError(f"{type(self).__name__}() got both object= and {first}=; pass one of them")
            kwargs[first] = kwargs.pop("object")
        init(self, *args, **kwargs)

    return wrapper


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


def _check_version(version: object) -> int | None:
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationError(f"an asset version must be an int or None, got {version!r}")
    return version


def _check_description(description: object) -> str | None:
    if description is not None and not isinstance(description, str):
        raise ValidationError(f"a description must be a string, got {description.__class__.__name__}")
    return description


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@functools.cache
def _parameter_names(cls: type) -> tuple[str, ...]:
    """The named parameters of ``cls``'s constructor and of the Asset constructor."""
    names: set[str] = {"categorical_columns", "predict_columns"}  # Dataset's other names for two of them
    for owner in (cls, Asset):
        names |= {
            p.name
            for p in inspect.signature(owner.__init__).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
        }
    return tuple(sorted(names))


def _refuse_misspelt(cls: type, extra: Mapping[str, Any]) -> None:
    """``TypeError`` for an extra keyword that is a near miss of a parameter (``descripton=``).

    Other extra keywords are kept with the metadata, as DESIGN §4a says; a misspelt parameter
    would otherwise be kept there silently while the parameter stays unset.
    """
    import difflib

    for key in extra:
        close = difflib.get_close_matches(key, _parameter_names(cls), n=1, cutoff=0.85)
        if close:
            raise TypeError(
                f"{cls.__name__}() got an unexpected keyword argument {key!r}; did you mean {close[0]!r}? "
                "(other extra keywords are kept in the metadata)"
            )


def _from_iso(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


class AssetNotes(list):  # type: ignore[type-arg]
    """An asset's user or engineer notes: the log of plain notes and the notes added with a key.

    The SDK keeps notes in a dictionary: ``add_user_notes("purpose", "demo")`` adds the pair, so
    ``notes["purpose"] == "demo"``, with ``keys()``, ``values()``, ``items()``, ``get()`` and ``in``.
    A note added without a key (``add_user_notes("text")``) goes to the log, which is the list
    itself, oldest first. It equals a list when it has no keyed notes, a dict when it has no log.
    It is a copy: changing it does not change the asset.
    """

    def __init__(self, log: Iterable[str] = (), keyed: Mapping[str, str] | None = None) -> None:
        """Notes with the plain notes ``log`` and the ``keyed`` pairs."""
        super().__init__(log)
        self.keyed: dict[str, str] = dict(keyed or {})

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self.keyed[key]
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        """The note added under ``key``, or ``default``."""
        return self.keyed.get(key, default)

    def keys(self) -> Any:
        """The keys of the keyed notes."""
        return self.keyed.keys()

    def values(self) -> Any:
        """The keyed notes."""
        return self.keyed.values()

    def items(self) -> Any:
        """The (key, note) pairs."""
        return self.keyed.items()

    def __contains__(self, item: object) -> bool:
        return item in self.keyed or super().__contains__(item)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AssetNotes):
            return list.__eq__(self, other) and self.keyed == other.keyed
        if isinstance(other, Mapping):
            return not list.__len__(self) and self.keyed == dict(other)
        if isinstance(other, list):
            return not self.keyed and list.__eq__(self, other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if not self.keyed:
            return list.__repr__(self)
        return f"AssetNotes({list.__repr__(self)}, keyed={self.keyed!r})"


def _same_value(a: Any, b: Any) -> bool:
    """Whether two attribute values are equal, without the errors ``==`` raises on frames and arrays.

    Frames, Series and Indexes compare with ``.equals``, arrays by shape, dtype and values; dicts,
    lists and tuples item by item; NaN equals NaN.
    """
    if a is b:
        return True
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if callable(getattr(a, "equals", None)) or callable(getattr(b, "equals", None)):
        try:
            return type(a) is type(b) and bool(a.equals(b))
        except Exception:  # an object whose equals() fails is not equal
            return False
    if (type(a).__module__ == "numpy" and hasattr(a, "shape")) or (
        type(b).__module__ == "numpy" and hasattr(b, "shape")
    ):
        import numpy as np

        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return bool(np.ndim(a) == 0 and np.ndim(b) == 0 and _same_value(np.asarray(a).item(), np.asarray(b).item()))
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        return all(_same_value(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same_value(a[key], b[key]) for key in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except Exception:  # values whose == raises or is ambiguous are not equal
        return False


class Asset:
    """A reusable object in the catalogue, with its label, type, name, description and metadata.

    ``Asset(object, label, type, metadata=None, name=None, description=None, version=None, **extra)``;
    ``type`` is an :class:`AssetType` or its name in any case. Extra keyword arguments are kept with
    the metadata and readable as attributes (``Asset(m, "churn", "model", accuracy=0.9).accuracy``).

    ``version`` not given is None (for a :class:`Model`, 0, as the SDK documents). After a save (or
    when read from the catalogue) ``id`` (alias ``asset_id``), ``version``, ``owner``, ``flow_id``,
    ``step_name``, ``time_created`` and ``time_updated`` are set; ``version`` is then always the
    number the catalogue gave (1 for a lineage's first version), whatever was passed in. A read
    asset loads its object on first access of ``asset.object`` or ``asset.get_object()``.
    """

    default_type: ClassVar[AssetType | None] = None
    #: ``version`` of an asset made without one, until the catalogue numbers it on save.
    default_version: ClassVar[int | None] = None

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
        if source_metadata is not None and not isinstance(source_metadata, Mapping):
            raise ValidationError(
                f"asset {label!r}: source_metadata must be a dict, got {source_metadata.__class__.__name__} "
                f"{source_metadata!r}"
            )
        contains_pii = _flag(contains_pii, "contains_pii", f"asset {label!r}")
        _refuse_misspelt(self.__class__, extra)
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
        self.description: str | None = _check_description(description)
        checked = _check_version(version)
        self.version: int | None = checked if checked is not None else self.default_version
        #: The version the caller asked for (the store numbers versions itself: saving says so).
        self.declared_version: int | None = checked
        self.metadata: dict[str, Any] = {**dict(metadata or {}), **extra}
        self._extra: list[str] = list(extra)
        governance = {
            "data_classification": data_classification,
            "contains_pii": contains_pii,
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

    # --- equality ----------------------------------------------------------------------------

    _EQUALITY_ATTRIBUTES: ClassVar[tuple[str, ...]] = (
        "label",
        "type",
        "name",
        "description",
        "version",
        "metadata",
        "_extra",
        "id",
        "owner",
        "flow_id",
        "step_name",
        "time_created",
        "time_updated",
    )

    def __eq__(self, other: object) -> bool:
        """Whether ``other`` is an asset of the same class with the same attributes (the SDK's equality).

        Compared: label, type, name, description, version, metadata (frames and arrays in it by
        value, with ``.equals``), the extra keyword names, id, owner, flow_id, step_name and the
        times. As the SDK says, the stored objects are not compared deeply: only their types.
        """
        if not isinstance(other, Asset):
            return NotImplemented
        if self is other:
            return True
        if type(self) is not type(other):
            return False
        mine, theirs = self.__dict__, other.__dict__
        if not all(_same_value(mine.get(key), theirs.get(key)) for key in self._EQUALITY_ATTRIBUTES):
            return False
        return self._same_object_type(other)

    # Equality follows the attributes, which change: assets are not hashable (not set members or keys).
    __hash__ = None  # type: ignore[assignment]

    def _object_type(self) -> type | None:
        """The type of the stored object (loading it if needed); None when it cannot be loaded."""
        state = self.__dict__
        if state.get("_object", _MISSING) is _MISSING:
            return None if state.get("_loader") is None else type(self.object)
        return type(state["_object"])

    def _same_object_type(self, other: Asset) -> bool:
        mine, theirs = self.__dict__.get("_source"), other.__dict__.get("_source")
        if mine is not None and mine is theirs:
            return True
        if mine is not None and theirs is not None and self.id is not None:
            # Both hold the object of the same stored version (same id and time_updated, compared
            # above) unchanged since it was read: same object, no need to load it.
            return True
        return self._object_type() is other._object_type()

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
        self.description = _check_description(description)
        return self

    def link_asset(self, label: str, asset: Asset | str) -> Asset:
        """Record a link named ``label`` to another asset (an ``Asset`` or the id of a saved one).

        The link is kept in the metadata by the other asset's id. An ``Asset`` not saved yet (the
        SDK's ``model.link_asset("training dataset", data)`` before either is saved) is linked when
        this asset is saved: saved first, as the same user, if it still is not by then.
        """
        if not isinstance(label, str) or not label:
            raise ValidationError(f"a link label must be a non-empty string, got {label!r}")
        pending: dict[str, Asset] = self.__dict__.setdefault("_pending_links", {})
        if isinstance(asset, Asset) and not asset.id:
            if asset is self:
                raise ValidationError(f"asset {self.label!r} cannot link {label!r} to itself")
            pending[label] = asset
            self.metadata.get(LINKS_KEY, {}).pop(label, None)
            return self
        target = asset.id if isinstance(asset, Asset) else asset
        if not isinstance(target, str) or not target:
            raise ValidationError(f"cannot link {label!r} to {asset!r}: give an Asset or the id of a saved one")
        pending.pop(label, None)
        self.metadata.setdefault(LINKS_KEY, {})[label] = target
        return self

    @property
    def linked_assets(self) -> dict[str, str]:
        """Links recorded with :meth:`link_asset`: link label → asset id (assets not saved yet left out)."""
        links = dict(self.metadata.get(LINKS_KEY, {}))
        for label, asset in self.__dict__.get("_pending_links", {}).items():
            if asset.id:
                links[label] = asset.id
        return links

    def unsaved_links(self) -> list[Asset]:
        """The assets linked with :meth:`link_asset` that are not saved yet (saving this one saves them first)."""
        return [asset for asset in self.__dict__.get("_pending_links", {}).values() if not asset.id]

    def pending_links(self) -> dict[str, Asset]:
        """Links made with :meth:`link_asset` to assets not saved then, by link label (recorded by id on save)."""
        return dict(self.__dict__.get("_pending_links", {}))

    def settle_links(self) -> None:
        """Record the links to assets saved since they were linked by their ids (called when this one is saved)."""
        pending: dict[str, Asset] = self.__dict__.get("_pending_links", {})
        for label, asset in list(pending.items()):
            if asset.id:
                self.metadata.setdefault(LINKS_KEY, {})[label] = asset.id
                del pending[label]

    def add_notes(self, dict_type: str, key: str | None = None, notes: str | None = None) -> Asset:
        """Add notes to the ``"user"`` or ``"engineer"`` notes.

        With ``key`` and ``notes`` the pair is kept under ``key`` (``asset.user_notes[key]``, and
        ``keyed_notes``); with only one of them, that text is appended to the notes log (the list
        ``asset.user_notes``). See :class:`AssetNotes`.
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

        method = _persistence_method(serialization_method, f"to_bytes of asset {self.label!r}")
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
        method = _persistence_method(serialization_method, "from_bytes")
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
    def user_notes(self) -> AssetNotes:
        """Notes added with :meth:`add_user_notes`: the log (a list, oldest first) and the keyed pairs."""
        return AssetNotes(self.metadata.get(USER_NOTES_KEY, []), self.metadata.get(f"{USER_NOTES_KEY}_by_key"))

    @property
    def engineer_notes(self) -> AssetNotes:
        """Notes added with :meth:`add_engineer_notes`: the log (a list, oldest first) and the keyed pairs."""
        return AssetNotes(self.metadata.get(ENGINEER_NOTES_KEY, []), self.metadata.get(f"{ENGINEER_NOTES_KEY}_by_key"))

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
            version=version if version is not None else cls.default_version,
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

#: Integer codes of an ordinal column above this are not taken as codes when inferring its values.
MAX_INFERRED_CODE = 9_999


def _holds_codes(series: Any) -> bool:
    """Whether ``series`` holds integer codes (an ordinal column), not the category values themselves."""
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return False
    if pd.api.types.is_integer_dtype(dtype):
        return True
    data = series.dropna()
    return bool(((data % 1) == 0).all())


def _sorted_values(values: Iterable[Any]) -> list[Any]:
    items = list(values)
    try:
        return sorted(items)
    except TypeError:  # mixed types: group by type, then by text
        return sorted(items, key=lambda value: (type(value).__name__, str(value)))


def _infer_values(series: Any, ordinal: bool) -> list[Any] | None:
    """The categories of ``series`` (sorted unique values), or None when they cannot be inferred.

    In an ordinal frame a column of integer codes gives ``[0, 1, ..., max code]`` (without names,
    a code stands for itself); a categorical column gives its categories. Only values that can be
    kept in the metadata (text, numbers, booleans) are inferred.
    """
    import pandas as pd

    data = series.dropna()
    if isinstance(series.dtype, pd.CategoricalDtype):
        values = list(series.cat.categories)
    elif ordinal and _holds_codes(series):
        if data.empty:
            return []
        low, high = data.min(), data.max()
        if low < 0 or high > MAX_INFERRED_CODE:
            return None
        return list(range(int(high) + 1))
    else:
        values = _sorted_values(pd.unique(data))
    values = [value.item() if type(value).__module__ == "numpy" else value for value in values]
    if not all(isinstance(value, str | int | float | bool) for value in values):
        return None
    return values


class Dataset(Asset):
    """A DataFrame asset, with column roles and the encoding of its categorical columns.

    ``categorical_cols`` hold categories; ``predict_cols`` are the columns a model uses (the
    frame can be filtered to them). ``encoding`` says how the frame writes its categories:
    ``ordinal`` (integer codes into ``cat_to_vals[col]``), ``one_hot`` (indicator columns
    ``one_hot_dict[col]``, one per value of ``cat_to_vals[col]``) or ``verbose`` (the values).
    ``categorical_columns=`` and ``predict_columns=`` are accepted as older names.

    ``cat_to_vals`` not given for a categorical column is inferred from the frame: its sorted
    unique values (verbose; and ordinal columns holding the values rather than codes), its
    categories (a pandas categorical), ``[0, ..., max code]`` for integer codes (ordinal), or the
    indicator columns ``column_value`` as ``pd.get_dummies`` names them (one-hot, which also
    infers ``one_hot_dict``). Values that cannot be kept in the metadata (dates, objects) are not
    inferred; converting that column then asks for ``cat_to_vals``.
    """

    default_type = AssetType.DATASET

    @_object_keyword
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
        """Create a dataset asset of the frame ``dataset`` (a pandas DataFrame, else UnsupportedTypeError)."""
        import pandas as pd

        if not isinstance(dataset, pd.DataFrame):
            raise UnsupportedTypeError(
                f"Dataset {label!r}: dataset must be a pandas DataFrame, got {type(dataset).__name__}; "
                + (
                    "turn a Series into a frame with series.to_frame(), "
                    if isinstance(dataset, pd.Series)
                    else "wrap the data with pandas.DataFrame(...), "
                )
                + "or keep other objects as Asset(obj, label, type=AssetType.OTHER)"
            )
        if isinstance(encoding, str) and DataEncoding.validate(encoding) is None:
            # Dataset(df, label, metadata, name, "a description") reads the fifth argument as the
            # encoding, as the SDK's Dataset does: say so instead of only naming the encodings.
            raise ValidationError(
                f"Dataset {label!r}: unknown encoding {encoding!r}; use one of "
                f"{', '.join(DataEncoding.get_valid_enums())}. The fifth argument of Dataset is encoding, as "
                "in the SDK: pass description= and version= by keyword"
            )
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
            if column in self.one_hot_dict:
                out.extend(self.one_hot_dict[column])
            elif column in self.categorical_columns:
                try:
                    values = self._categories(column)
                except ValidationError:
                    out.append(column)  # categories unknown: no indicator columns to name
                else:
                    out.extend(self._one_hot_names(column, values))
            else:
                out.append(column)
        return out

    @property
    def filtering_allowed(self) -> bool:
        """Whether the frame can be filtered to ``predict_cols``."""
        return bool(self.metadata.get(PREDICT_KEY))

    def set_categorical_columns(self, columns: Iterable[str]) -> Dataset:
        """Mark ``columns`` as categorical and infer their values (see the class docstring).

        They must be columns of the frame; in a one-hot frame, features with indicator columns.
        """
        self.metadata[CATEGORICAL_KEY] = self._known_columns(columns, "categorical")
        self._infer_categories()
        return self

    def _dummy_columns(self, feature: str, columns: list[str]) -> list[str]:
        """The indicator columns of ``feature`` as ``pd.get_dummies`` names them (``feature_value``)."""
        prefix = f"{feature}_"
        longer = [f"{other}_" for other in self.categorical_columns if other != feature and other.startswith(prefix)]
        return [c for c in columns if c.startswith(prefix) and not any(c.startswith(p) for p in longer)]

    def _infer_categories(self) -> None:
        """Infer ``cat_to_vals`` (and, one-hot, ``one_hot_dict``) for categorical columns without them."""
        frame = self._object if self.is_loaded else None
        columns = _columns_of(frame)
        if columns is None:
            return
        known: dict[str, list[Any]] = dict(self.metadata.get(CAT_TO_VALS_KEY, {}))
        one_hot: dict[str, list[str]] = dict(self.metadata.get(ONE_HOT_KEY, {}))
        encoding = self.encoding
        changed = False
        for feature in self.categorical_columns:
            if feature in known:
                continue
            if encoding is DataEncoding.ONE_HOT and feature not in columns:
                indicators = one_hot.get(feature) or self._dummy_columns(feature, columns)
                if not indicators:
                    continue
                one_hot.setdefault(feature, indicators)
                prefix = f"{feature}_"
                known[feature] = [c[len(prefix) :] if c.startswith(prefix) else c for c in indicators]
                changed = True
            elif feature in frame.columns:
                values = _infer_values(frame[feature], ordinal=encoding is DataEncoding.ORDINAL)
                if values is not None:
                    known[feature] = values
                    changed = True
        if changed:
            self.metadata[CAT_TO_VALS_KEY] = known
            if one_hot:
                self.metadata[ONE_HOT_KEY] = one_hot

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
        for name, given in (("one_hot_dict", one_hot_dict), ("cat_to_vals", cat_to_vals)):
            if given is not None and not isinstance(given, Mapping):
                raise ValidationError(
                    f"dataset {self.label!r}: {name} must be a dict of column name → list of values, got "
                    f"{type(given).__name__} {given!r}"
                )
        if one_hot_dict is not None:
            self.metadata[ONE_HOT_KEY] = {str(k): [str(c) for c in v] for k, v in one_hot_dict.items()}
        if cat_to_vals is not None:
            self.metadata[CAT_TO_VALS_KEY] = {str(k): list(v) for k, v in cat_to_vals.items()}
        if categorical_cols is not None:
            self.set_categorical_columns(categorical_cols)
        elif cat_to_vals is not None:
            self.metadata[CATEGORICAL_KEY] = list(self.metadata[CAT_TO_VALS_KEY])
            self._infer_categories()
        elif one_hot_dict is not None:
            self.metadata[CATEGORICAL_KEY] = list(self.metadata[ONE_HOT_KEY])
            self._infer_categories()

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
        one_hot = self.check_valid_encoding(encoding) is DataEncoding.ONE_HOT
        wanted = self.predict_cols_one_hot if one_hot else self.predict_columns
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
        if values is None and (self.is_loaded or self.__dict__.get("_loader") is not None):
            self.get_object()  # a dataset read from the catalogue: infer from its frame now
            self._infer_categories()
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
                if not _holds_codes(out[column]):
                    continue  # text, categories or booleans: the column holds the values already
                codes = out[column].dropna()
                if not codes.empty and (codes.min() < 0 or codes.max() >= len(values)):
                    raise ValidationError(
                        f"column {column!r} of dataset {self.label!r} holds codes from {_plain(codes.min())!r} "
                        f"to {_plain(codes.max())!r}, but cat_to_vals[{column!r}] has {len(values)} values "
                        f"(codes 0 to {len(values) - 1})"
                    )
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
        """``X`` converted from encoding ``from_`` to ``to_`` (each None: the dataset's own encoding).

        ``filter=True`` keeps only the predict columns. An unknown encoding is a ValidationError.
        """
        source = self.check_valid_encoding(from_)
        target = self.check_valid_encoding(to_)
        out = X if source is target else self._from_verbose(self._to_verbose(X, source), target)
        return self.filter_data(out, target) if filter else out

    def get_as_encoding(self, encoding: str | DataEncoding | None = None, filter: bool = False) -> Any:
        """The dataset's frame in ``encoding`` (optionally only the predict columns)."""
        return self.convert_encoding(self.object, None, encoding, filter)

    def _known_columns(self, columns: Iterable[str], role: str) -> list[str]:
        if not isinstance(columns, str | Iterable) or isinstance(columns, bytes | Mapping):
            raise ValidationError(
                f"{role} columns of dataset {self.label!r} must be a list of column names, got "
                f"{type(columns).__name__} {columns!r}"
            )
        chosen = [columns] if isinstance(columns, str) else list(columns)
        if not all(isinstance(c, str) for c in chosen):
            raise ValidationError(f"{role} columns of dataset {self.label!r} must be column names (strings)")
        available = _columns_of(self._object) if self.is_loaded else None
        if available is not None:
            one_hot = role == "categorical" and self.encoding is DataEncoding.ONE_HOT
            unknown = [
                c
                for c in chosen
                if c not in available
                and not (one_hot and (c in self.one_hot_dict or any(a.startswith(f"{c}_") for a in available)))
            ]
            if unknown:
                raise ValidationError(
                    f"dataset {self.label!r} has no columns {unknown} to mark as {role}; its columns are {available}"
                )
        return chosen


class Model(Asset):
    """A trained model (any estimator); attribute access passes through to it (``model.predict(X)``).

    Calls made through the asset are timed: :meth:`get_time` and :meth:`get_recent_time`.
    ``version`` defaults to 0 until the catalogue numbers the saved version.
    """

    default_type = AssetType.MODEL
    default_version = 0

    @_object_keyword
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

    def get_time(self, attr: str) -> float | None:
        """Seconds (a float) the last call of ``attr`` through the asset took, or None if none was timed."""
        return self._times().get(attr)

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

    def __setattr__(self, name: str, value: Any) -> None:
        """Set an attribute of the estimator when it has one the asset lacks (``model.C = 0.5``).

        The asset's own attributes (its label, name, version, ... even where the estimator has one
        of that name, as a Keras model has ``name``), and any name the estimator lacks, are set on
        the asset.
        """
        if (
            name.startswith("_")
            or name in _RESERVED
            or name in self.__dict__
            or hasattr(type(self), name)
            or "_object" not in self.__dict__
            or not hasattr(self.object, name)
        ):
            super().__setattr__(name, value)
        else:
            setattr(self.object, name, value)

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
        """Create an explainer asset holding ``object``."""
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


_TEXT_DTYPES = frozenset({"object", "str", "string"})


def _dtype_family(name: str) -> str:
    """``name``, with the text dtypes as one: ``object`` (the SDK's name), ``str`` and ``string``.

    pandas 3 gives text columns the dtype ``str``; older pandas ``object``; ``string`` (and
    ``string[pyarrow]``, ...) are pandas' string dtypes.
    """
    base = name.split("[", 1)[0]
    return "text" if base in _TEXT_DTYPES or base == "large_string" else name


def _is_numeric_dtype(dtype: Any) -> bool:
    """Whether ``dtype`` (a dtype or its name) holds numbers, checked by range; booleans do not."""
    import pandas as pd

    try:
        dtype = pd.api.types.pandas_dtype(dtype) if isinstance(dtype, str) else dtype
    except TypeError:
        return False
    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


def _value_kind(value: Any) -> Any:
    """What a value is, for comparisons by type: booleans, numbers, text, dates... (1 is not True)."""
    import numbers

    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):
        return "bool"
    if isinstance(value, numbers.Number):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    return type(value)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (for messages and comparisons)."""
    return value.item() if type(value).__module__ == "numpy" and hasattr(value, "item") else value


def _is_among(value: Any, allowed: list[Any]) -> bool:
    """Whether ``value`` is one of ``allowed``, compared by type and value (``"1"`` is not ``1``)."""
    value = _plain(value)
    kind = _value_kind(value)
    return any(_value_kind(_plain(a)) == kind and _same_value(value, _plain(a)) for a in allowed)


def _numeric_range(column: str, allowed: Any) -> tuple[float, float]:
    """``valid_inputs[column]`` of a numeric column as (min, max); ValidationError unless ``[min, max]``."""
    import math
    import numbers

    bounds = list(allowed) if isinstance(allowed, list | tuple) else None
    ok = (
        bounds is not None
        and len(bounds) == 2
        and all(isinstance(b, numbers.Real) and _value_kind(b) == "number" and not math.isnan(float(b)) for b in bounds)
    )
    if not ok or bounds[0] > bounds[1]:  # type: ignore[index]
        raise ValidationError(
            f"valid_inputs[{column!r}] is {allowed!r}: for a numeric column it must be [min, max], "
            "two numbers with min <= max (the values allowed, both included)"
        )
    return _plain(bounds[0]), _plain(bounds[1])  # type: ignore[index]


def _shown(values: Iterable[Any], limit: int = 20) -> str:
    items = _sorted_values(_plain(v) for v in values)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return f"{items[:limit]!r}{more}"


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
    columns: dict[str, str] = {}
    for column, dtype in pairs:
        try:
            columns[str(column)] = _dtype_name(dtype)
        except ValidationError as exc:
            raise ValidationError(
                f"schema column {column!r}: {exc}. A Schema maps each column to its dtype, e.g. "
                "{'age': 'int64', 'city': 'object'}, frame.dtypes or a DataFrame"
            ) from exc
    return columns


class Schema(Asset):
    """The column names and dtypes a frame should have, and optionally the values it may hold.

    ``schema`` is ``frame.dtypes`` (a Series), a dict of column → dtype, a DataFrame or
    (column, dtype) pairs. :meth:`validate` returns True or raises ValidationError naming every
    difference: missing columns, other dtypes, extra columns (with ``exact_match``) and values
    ``valid_inputs`` does not allow. :meth:`mismatches` lists the column differences instead.

    The text dtypes are one: a column of dtype ``object`` (the SDK's name for text columns),
    ``str`` (pandas 3) or ``string`` matches any of them. ``valid_inputs[column]`` is ``[min, max]``
    for a numeric column (every value must lie in it, both ends included) and the list of allowed
    values for any other (compared by type and value: ``"1"`` is not ``1``). With ``exact_match``,
    ``valid_inputs`` (when given) must name every column of the schema.
    """

    default_type = AssetType.SCHEMA

    @_object_keyword
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
        """Create a schema asset (label ``"schema"`` unless given).

        ``Schema(schema, "label")``, the ``(object, label, ...)`` order of the other assets, names the
        label: a text second argument with no ``label=`` is the label, not ``exact_match``.
        """
        if isinstance(exact_match, str) and label is None:
            exact_match, label = False, exact_match
        exact_match = _flag(
            exact_match,
            "exact_match",
            "Schema",
            allow_none=False,
            hint=" (the label is the fourth argument: Schema(schema, label=...))",
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
            checked: dict[str, list[Any]] = {}
            for key, values in valid_inputs.items():
                if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
                    raise ValidationError(f"valid_inputs[{key!r}] must be a list, got {values!r}")
                checked[str(key)] = list(values)
                dtype = self.object.get(str(key))
                if dtype is not None and _is_numeric_dtype(dtype):
                    _numeric_range(str(key), checked[str(key)])
            self.metadata["valid_inputs"] = checked

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
        """Whether :meth:`validate` also checks values: ``valid_inputs`` was given (even empty)."""
        return self.valid_inputs is not None

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
        self._check_frame(frame)
        found = _schema_columns(frame)
        out = []
        for column, expected in self.dtypes.items():
            if column not in found:
                out.append(SchemaMismatch(column, "missing", expected, None))
            elif _dtype_family(found[column]) != _dtype_family(expected):
                out.append(SchemaMismatch(column, "dtype", expected, found[column]))
        if not allow_extra_columns:
            known = self.dtypes
            out.extend(
                SchemaMismatch(column, "unexpected", None, dtype)
                for column, dtype in found.items()
                if column not in known
            )
        return out

    def _check_frame(self, frame: Any) -> None:
        """``UnsupportedTypeError`` unless ``frame`` is a pandas DataFrame (what a schema checks)."""
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            raise UnsupportedTypeError(
                f"schema {self.label!r} checks a pandas DataFrame, got {type(frame).__name__}; "
                "pass the frame itself (wrap other data with pandas.DataFrame(...))"
            )

    def validate_level_1(self, df: Any) -> bool:
        """True when ``df``'s columns and dtypes conform; ValidationError naming each difference."""
        problems = self.mismatches(df)
        if problems:
            raise ValidationError(
                f"the frame does not match schema {self.label!r}: " + "; ".join(str(p) for p in problems)
            )
        return True

    def validate_level_2(self, df: Any) -> bool:
        """True when every column in ``valid_inputs`` holds only valid values; ValidationError if not.

        A numeric column's values must lie in its ``[min, max]`` (both included); another column's
        values must be among its list. With ``exact_match``, ``valid_inputs`` must name every
        schema column. Missing values are not checked. Without ``valid_inputs``: True.
        """
        self._check_frame(df)
        valid = self.valid_inputs
        if valid is None:
            return True
        problems = []
        if self.exact_match:
            uncovered = [column for column in self.columns if column not in valid]
            if uncovered:
                problems.append(
                    f"valid_inputs has no entry for the schema columns {uncovered} "
                    "(with exact_match=True it must have one for every column)"
                )
        dtypes = self.dtypes
        for column, allowed in valid.items():
            if column not in df.columns:
                continue
            data = df[column]
            values = data.dropna()
            if _is_numeric_dtype(dtypes.get(column, data.dtype)):
                low, high = _numeric_range(column, allowed)
                if not _is_numeric_dtype(data.dtype):
                    problems.append(
                        f"column {column!r} has dtype {data.dtype}, not numeric, so its range [{low}, {high}] "
                        "cannot be checked"
                    )
                    continue
                outside = values[(values < low) | (values > high)]
                if len(outside):
                    problems.append(f"column {column!r} holds {_shown(outside.unique())}, outside [{low}, {high}]")
            else:
                bad = [value for value in values.unique() if not _is_among(value, allowed)]
                if bad:
                    problems.append(f"column {column!r} holds {_shown(bad)}, not among {allowed}")
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
