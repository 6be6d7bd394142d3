"""Input elements: what the user uploads, picks or types on a page."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import numbers
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from pathlib import PurePath
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from flowdeck import formats
from flowdeck.elements.base import ElementType, InputElement, check_bool, loading_saved, to_jsonable
from flowdeck.elements.callbacks import callback_from_json, callback_to_json
from flowdeck.errors import FlowdeckError, NotFoundError, ValidationError

__all__ = [
    "DataSource",
    "DataSourceDropdown",
    "DateTimeRange",
    "Dropdown",
    "MultiDropdown",
    "NumericRange",
    "NumericRangeSlider",
    "NumericSlider",
    "SingleDropdown",
    "TextInput",
]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DataSource(InputElement):
    """A file upload.

    ``options`` are the accepted formats (csv, tsv, xlsx, json, parquet); with ``raw_upload=True``
    they are file extensions (any; none, or ``"*"``, means every file) and the bytes are kept as
    they are. Options that name only files no DataFrame can be read from (``pdf``, ``docx``,
    ``txt``, ``"*"``) imply ``raw_upload=True``. The ``value`` describes the upload: ``filename``,
    ``size``, ``sha256`` and ``uploaded_at`` (ISO text), plus any further keys the store records;
    it is set by an upload, not by the flow. ``on_upload_completion`` is a page-update callback
    run after an upload; ``on_cancel`` one run when the user removes it.
    """

    default_required: ClassVar[bool] = True
    UPLOAD_KEYS: ClassVar[tuple[str, ...]] = ("filename", "size", "sha256", "uploaded_at")
    #: Options the SDK names for files that are kept as bytes: with only these, raw_upload is implied.
    RAW_OPTIONS: ClassVar[tuple[str, ...]] = ("pdf", "docx", "txt", "*")
    #: Options the SDK names for the platform's own sources (an S3 object, a SQL query), not files.
    PLATFORM_SOURCES: ClassVar[dict[str, str]] = {
        "s3": "read the object in the step with StoreInterface.get_s3_asset(path)",
        "sql": "run the query in the step with StoreInterface.db_to_pandas(query, conn_name)",
    }

    def __init__(
        self,
        title: str = "",
        options: list[str] | None = None,
        value: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        required: bool = True,
        label: str = "",
        placeholder: str = "",
        on_upload_completion: Any = None,
        on_cancel: Any = None,
        reference_id: str | None = "",
        downloadable: bool = False,
        raw_upload: bool = False,
    ) -> None:
        """Create an upload accepting ``options`` (default ``["csv"]``)."""
        super().__init__(
            ElementType.DATA_SOURCE,
            {},
            {},
            title,
            description,
            show_title,
            show_description,
            label,
            placeholder,
            reference_id=reference_id,
        )
        self.required = check_bool(required, "required", self._describe(), allow_none=False)
        self.raw_upload = check_bool(raw_upload, "raw_upload", self._describe(), allow_none=False)
        self.downloadable = check_bool(downloadable, "downloadable", self._describe())
        self.on_upload_completion = on_upload_completion
        self.on_cancel = on_cancel
        self.options = self._check_options(["csv"] if options is None else options)
        if isinstance(value, str) and value:
            raise ValidationError(
                f"{self._describe()}: value={value!r} cannot stand for a file: in flowdeck the file itself is "
                "uploaded (in the web UI, with run.upload(title, filename, data), "
                "flowdeck run --upload TITLE=PATH, or a headless run's input_parameters); leave value unset"
            )
        self.set_value(value if value != "" else None)

    def _check_options(self, options: Iterable[str] | str) -> list[str]:
        if isinstance(options, str):
            options = [options]
        if isinstance(options, bytes | Mapping) or not isinstance(options, Iterable):
            raise ValidationError(
                f"{self._describe()}: options must be a list of file format names such as ['csv', 'xlsx'], "
                f"got {type(options).__name__} {options!r}"
            )
        names: list[str] = []
        for option in options:
            if not isinstance(option, str) or not option.strip(". "):
                raise ValidationError(f"{self._describe()}: option {option!r} is not a file format name")
            name = option.strip().lstrip(".").lower()
            if name not in names:
                names.append(name)
        if not self.raw_upload and names and all(name in self.RAW_OPTIONS for name in names):
            # Only files no DataFrame can be read from: they can only be kept as bytes.
            self.raw_upload = True
        if self.raw_upload:
            return [] if "*" in names else names  # "*": every file, like no options
        for name in names:
            if name in self.PLATFORM_SOURCES:
                raise ValidationError(
                    f"{self._describe()}: option {name!r} is a data source of the Virtualitics platform that "
                    f"flowdeck does not offer; {self.PLATFORM_SOURCES[name]} instead (with raw_upload=True, "
                    f"{name!r} would only be a file extension)"
                )
            if name not in formats.SUPPORTED_FORMATS and name not in self.RAW_OPTIONS:
                raise ValidationError(
                    f"{self._describe()}: unknown option {name!r}; valid options are "
                    f"{', '.join(formats.SUPPORTED_FORMATS)} "
                    "(or pass raw_upload=True to keep any file as bytes)"
                )
        raw = [name for name in names if name in self.RAW_OPTIONS]
        if raw:
            tabular = [name for name in names if name in formats.SUPPORTED_FORMATS]
            raise ValidationError(
                f"{self._describe()}: {', '.join(map(repr, raw))} files cannot be read into a DataFrame, "
                f"unlike {', '.join(tabular)}; pass raw_upload=True to keep every upload as bytes "
                "(get_element_value then returns bytes), or use one DataSource for each"
            )
        if not names:
            raise ValidationError(
                f"{self._describe()}: needs at least one option among {', '.join(formats.SUPPORTED_FORMATS)}"
            )
        return names

    @staticmethod
    def describe_upload(filename: str, data: bytes, uploaded_at: dt.datetime | str | None = None) -> dict[str, Any]:
        """Return the ``value`` recording an upload of ``data`` named ``filename`` (now, unless given)."""
        when = uploaded_at or dt.datetime.now(dt.UTC)
        return {
            "filename": filename,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "uploaded_at": when if isinstance(when, str) else when.isoformat(),
        }

    def check_upload(self, filename: str, data: bytes) -> str | None:
        """Check an upload against the options, by content; return its format (None for raw uploads).

        Raises ValidationError naming the file when its content is not an accepted format (or,
        for raw uploads, when its extension is not among the options).
        """
        if not self.raw_upload:
            return formats.check_format(data, filename, self.options)
        if self.options:
            extension = PurePath(filename).suffix.lstrip(".").lower()
            if extension not in self.options:
                raise ValidationError(
                    f"{filename!r} has extension {extension or '(none)'!r}, but {self._describe()} accepts "
                    f"{', '.join(self.options)}"
                )
        return None

    def validate_value(self, value: Any) -> dict[str, Any] | None:
        """Accept None or a dict describing the upload (see :meth:`describe_upload`)."""
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ValidationError(
                f"{self._describe()}: value must describe an upload "
                f"(a dict with {', '.join(self.UPLOAD_KEYS)}), "
                f"got {type(value).__name__}; upload a file instead of setting the value"
            )
        missing = [key for key in self.UPLOAD_KEYS if key not in value]
        if missing:
            raise ValidationError(f"{self._describe()}: upload description lacks {', '.join(missing)}")
        out = dict(value)
        if not isinstance(out["filename"], str) or not out["filename"]:
            raise ValidationError(f"{self._describe()}: upload filename must be non-empty text")
        size = out["size"]
        if not isinstance(size, int | np.integer) or isinstance(size, bool) or size < 0:
            raise ValidationError(f"{self._describe()}: upload size must be a whole number >= 0, got {size!r}")
        if not isinstance(out["sha256"], str) or not _SHA256.match(out["sha256"]):
            raise ValidationError(f"{self._describe()}: upload sha256 must be 64 lower-case hex digits")
        out["uploaded_at"] = _parse_datetime(out["uploaded_at"], f"{self._describe()}: uploaded_at").isoformat()
        return to_jsonable(out)

    def value_from_text(self, text: str) -> Any:
        """Refused: a file is uploaded, not typed."""
        raise ValidationError(f"{self._describe()} takes an uploaded file, not text; upload {text!r} instead")

    def typed_value(self) -> Any:
        """The upload's description (a dict), or None before an upload."""
        return None if self._value is None else dict(self._value)

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "options": list(self.options),
            "raw_upload": self.raw_upload,
            "downloadable": self.downloadable,
            "on_upload_completion": callback_to_json(self.on_upload_completion),
            "on_cancel": callback_to_json(self.on_cancel),
            **super()._fields_to_json(),
        }

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        element = cls(
            data["title"],
            data["options"],
            required=data["required"],
            downloadable=data.get("downloadable", False),
            raw_upload=data["raw_upload"],
        )
        element.on_upload_completion = callback_from_json(data.get("on_upload_completion"))
        element.on_cancel = callback_from_json(data.get("on_cancel"))
        return element


class Dropdown(InputElement):
    """A choice among ``options``: one, or a list of them when ``multiselect``.

    ``options`` is a list, or a dict mapping the text shown to the value a later step reads
    (``get_value`` returns the mapped value). ``selected`` may be one option or a list (a
    single-select dropdown takes a list of at most one). ``max_selections`` caps a multiselect.
    """

    default_required: ClassVar[bool] = True

    def __init__(
        self,
        options: list[str | int | float] | dict[str, str | int | float],
        selected: list[str | int | float] | None = None,
        include_nulls_visible: bool = True,
        include_nulls_value: bool = False,
        multiselect: bool = False,
        title: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        required: bool = True,
        label: str = "",
        placeholder: str = "",
        max_selections: int | None = None,
        page_update: Any = None,
        reference_id: str | None = "",
    ) -> None:
        """Create a dropdown offering ``options`` with ``selected`` chosen (none by default)."""
        super().__init__(
            ElementType.DROPDOWN,
            {},
            {},
            title,
            description,
            show_title,
            show_description,
            label,
            placeholder,
            page_update,
            reference_id=reference_id,
        )
        self._init_dropdown(
            options, selected, include_nulls_visible, include_nulls_value, multiselect, required, max_selections
        )

    def _init_dropdown(
        self,
        options: Any,
        selected: Any,
        include_nulls_visible: bool,
        include_nulls_value: bool,
        multiselect: bool,
        required: bool,
        max_selections: int | None,
    ) -> None:
        multiselect = check_bool(multiselect, "multiselect", self._describe(), allow_none=False)
        required = check_bool(required, "required", self._describe(), allow_none=False)
        include_nulls_visible = check_bool(include_nulls_visible, "include_nulls_visible", self._describe())
        include_nulls_value = check_bool(include_nulls_value, "include_nulls_value", self._describe())
        if max_selections is not None and (
            isinstance(max_selections, bool) or not isinstance(max_selections, int) or max_selections < 1
        ):
            raise ValidationError(
                f"{self._describe()}: max_selections must be a whole number >= 1, got {max_selections!r}"
            )
        self.multiselect = multiselect
        self.required = required
        self.include_nulls_visible = include_nulls_visible
        self.include_nulls_value = include_nulls_value
        self.max_selections = max_selections
        self.dropdown_map: dict[str, Any] | None = None
        if isinstance(options, Mapping):
            self.dropdown_map = {str(key): to_jsonable(value) for key, value in options.items()}
            options = list(self.dropdown_map)
        self.options = self._check_options(options)
        self.set_value(selected)

    def _check_options(self, options: Iterable[Any] | None) -> list[Any]:
        if options is None:
            return []
        if isinstance(options, str | bytes) or not isinstance(options, Iterable):
            raise ValidationError(
                f"{self._describe()}: options must be a list or a dict, got {type(options).__name__} {options!r}"
            )
        if isinstance(options, pd.DataFrame):  # iterating a frame gives its column names, rarely what is meant
            raise ValidationError(
                f"{self._describe()}: options must be a list or a dict, got a DataFrame; pass "
                "list(frame.columns) to offer its column names, or frame[column].unique().tolist() for a "
                "column's values"
            )
        cleaned = [to_jsonable(option) for option in options]
        for option in cleaned:
            if isinstance(option, list | dict):
                raise ValidationError(f"{self._describe()}: option {option!r} must be text or a number")
        return cleaned

    @property
    def selected(self) -> list[Any]:
        """The selected options as a list, ``[]`` when nothing is selected (the SDK's form of ``selected``).

        Assigning it selects, as :meth:`set_value` does. ``value`` keeps the stored form (one option
        or None unless ``multiselect``); :meth:`get_value` reads the selection for a later step.
        """
        if self.multiselect:
            return list(self._value)
        return [] if self._value is None else [self._value]

    @selected.setter
    def selected(self, value: Any) -> None:
        self.set_value(value)

    def _match(self, choice: Any) -> Any:
        plain = to_jsonable(choice)
        for option in self.options:
            if option == plain and type(option) is type(plain):
                return option
        for option in self.options:
            if option == plain:
                return option
        if self.dropdown_map is not None:
            for shown, mapped in self.dropdown_map.items():
                if mapped == plain:
                    return shown
        raise ValidationError(
            f"{self._describe()}: {choice!r} is not among the options "
            f"[{', '.join(repr(option) for option in self.options)}]"
        )

    def validate_value(self, value: Any) -> Any:
        """Accept None, an option or a list of options (at most one unless ``multiselect``)."""
        if value is None:
            return [] if self.multiselect else None
        if self.multiselect:
            if isinstance(value, str) or not isinstance(value, Iterable):
                value = [value]
            chosen = [self._match(choice) for choice in value]
            if self.max_selections is not None and len(chosen) > self.max_selections:
                raise ValidationError(
                    f"{self._describe()} takes at most {self.max_selections} selections, got {len(chosen)}"
                )
            return chosen
        if isinstance(value, list | tuple | set | np.ndarray):
            items = list(value)
            if len(items) > 1:
                raise ValidationError(
                    f"{self._describe()} takes one selection, got {len(items)}: {items!r}; "
                    "pass one option, or create the dropdown with multiselect=True"
                )
            return self._match(items[0]) if items else None
        return self._match(value)

    def has_value(self) -> bool:
        """Whether something is selected."""
        return bool(self._value) if self.multiselect else self._value is not None

    def _mapped(self, option: Any) -> Any:
        return option if self.dropdown_map is None else self.dropdown_map.get(option, option)

    def typed_value(self) -> Any:
        """The selection: an option, None, or (multiselect) a list; dict options give their values."""
        if self.multiselect:
            return [self._mapped(option) for option in self._value]
        return None if self._value is None else self._mapped(self._value)

    def update_from_input_parameters(self) -> None:
        """Re-check the selection against the options (after either changed)."""
        self.set_value(self._value)

    def value_from_text(self, text: str) -> Any:
        """Find the option whose text is ``text``; with multiselect, comma-separated options."""
        by_text = {str(option): option for option in self.options}
        if text in by_text:
            return [by_text[text]] if self.multiselect else by_text[text]
        if self.multiselect:
            parts = [part.strip() for part in text.split(",") if part.strip()]
            return [by_text.get(part, part) for part in parts]
        return text

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "options": list(self.options),
            "dropdown_map": self.dropdown_map,
            "multiselect": self.multiselect,
            "include_nulls_visible": self.include_nulls_visible,
            "include_nulls_value": self.include_nulls_value,
            "max_selections": self.max_selections,
            **super()._fields_to_json(),
        }

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        element = cls.__new__(cls)
        Dropdown.__init__(element, [])
        options = data["options"] if data.get("dropdown_map") is None else data["dropdown_map"]
        element._init_dropdown(
            options,
            None,
            data.get("include_nulls_visible", True),
            data.get("include_nulls_value", False),
            data["multiselect"],
            data["required"],
            data.get("max_selections"),
        )
        return element


class SingleDropdown(Dropdown):
    """A dropdown where the user picks one option. ``selected`` is that option, or None (as in the SDK)."""

    def __init__(
        self,
        options: list[str | int | float] | dict[str, str | int | float],
        selected: int | float | str | None = None,
        include_nulls_visible: bool = True,
        include_nulls_value: bool = False,
        title: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        required: bool = True,
        label: str = "",
        placeholder: str = "",
        page_update: Callable[..., Any] | None = None,
        reference_id: str | None = "",
    ) -> None:
        """Create a single-choice dropdown."""
        super().__init__(
            options,
            selected,
            include_nulls_visible,
            include_nulls_value,
            False,
            title,
            description,
            show_title,
            show_description,
            required,
            label,
            placeholder,
            None,
            page_update,
            reference_id,
        )

    @property
    def selected(self) -> int | float | str | None:
        """The selected option, None when nothing is selected (the SDK's form of a SingleDropdown's ``selected``)."""
        return self._value

    @selected.setter
    def selected(self, value: Any) -> None:
        self.set_value(value)


class MultiDropdown(Dropdown):
    """A dropdown where the user picks any number of options (up to ``max_selections``)."""

    def __init__(
        self,
        options: list[str | int | float] | dict[str, str | int | float],
        selected: list[str | int | float] | None = None,
        include_nulls_visible: bool = True,
        include_nulls_value: bool = False,
        title: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        required: bool = True,
        label: str = "",
        placeholder: str = "",
        max_selections: int | None = None,
        page_update: Any = None,
        reference_id: str | None = "",
    ) -> None:
        """Create a multiple-choice dropdown."""
        super().__init__(
            options,
            selected,
            include_nulls_visible,
            include_nulls_value,
            True,
            title,
            description,
            show_title,
            show_description,
            required,
            label,
            placeholder,
            max_selections,
            page_update,
            reference_id,
        )


# Elements are plain objects and import nothing of the services: the connection service registers the
# function that lists a user's connections here when it is imported.
_connection_lister: Callable[[str], Iterable[Any]] | None = None


def register_connection_lister(lister: Callable[[str], Iterable[Any]]) -> None:
    """Set how :class:`DataSourceDropdown` lists the connections a user may use (the connection service's)."""
    global _connection_lister
    _connection_lister = lister


def _connection_type_names(options: Any, owner: str) -> list[str]:
    """The connection type names ``options`` gives (ConnectionType members, or their names in any case)."""
    # Imported here, not at the top: loading the element classes imports nothing of the storage layer.
    from flowdeck.storage.connection_urls import ConnectionType

    valid = [member.value for member in ConnectionType]
    if isinstance(options, str | bytes) or not isinstance(options, Iterable):
        given = f"ConnectionType.{options.name}" if isinstance(options, ConnectionType) else repr(options)
        raise ValidationError(
            f"{owner}: options must be a list of ConnectionType, got {given}; pass [{given}]. "
            f"Accepted types: {', '.join(valid)}"
        )
    names: list[str] = []
    for option in options:
        # ConnectionType is a str Enum: a member and its name read the same once lower-cased.
        name = option.strip().lower() if isinstance(option, str) else None
        if name not in valid:
            raise ValidationError(f"{owner}: {option!r} is not a connection type. Accepted types: {', '.join(valid)}")
        names.append(name)
    return names


class DataSourceDropdown(Dropdown):
    """A choice among the named connections of the given types that ``user_id`` may use.

    The options are ``"name (type)"`` texts; :meth:`get_value` returns the chosen connection as a
    dict with ``name``, ``type`` and ``owner``.
    """

    def __init__(
        self,
        user_id: str,
        options: list[Any],
        selected: list[str] | None = None,
        include_nulls_visible: bool = True,
        include_nulls_value: bool = False,
        title: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        required: bool = True,
        label: str = "",
        placeholder: str = "",
    ) -> None:
        """Offer ``user_id``'s connections whose type is among ``options`` (ConnectionType values).

        An option that names no connection type is a ValidationError (a ValueError) naming it and the
        accepted types.
        """
        self.user_id = user_id
        self.connection_types = _connection_type_names(options, f"DataSourceDropdown {title!r}")
        super().__init__(
            self.conn2dropdown_str(self.connection_types, user_id),
            selected,
            include_nulls_visible,
            include_nulls_value,
            False,
            title,
            description,
            show_title,
            show_description,
            required,
            label,
            placeholder,
        )

    @staticmethod
    def conn2dropdown_str(filter_options: Iterable[Any], user_id: str) -> dict[str, dict[str, Any]]:
        """The connections ``user_id`` may use whose type is in ``filter_options``, by dropdown text."""
        wanted = set(_connection_type_names(filter_options, "DataSourceDropdown.conn2dropdown_str"))
        if _connection_lister is None:
            raise FlowdeckError("connection lookups need flowdeck's store: import flowdeck.store.connections first")
        list_connections = _connection_lister
        found: dict[str, dict[str, Any]] = {}
        for info in list_connections(user_id):
            kind = str(getattr(info.type, "value", info.type))
            if not wanted or kind in wanted:
                found[f"{info.name} ({kind})"] = {"name": info.name, "type": kind, "owner": info.owner}
        return found

    @staticmethod
    def dropdown_str2conn(user_id: str, connection_str: str) -> dict[str, Any]:
        """The connection a dropdown text (``"name (type)"``) names, for ``user_id``."""
        for text, connection in DataSourceDropdown.conn2dropdown_str([], user_id).items():
            if text == connection_str:
                return connection
        raise NotFoundError(f"user {user_id!r} has no connection shown as {connection_str!r}")

    def get_value(self) -> Any:
        """The chosen connection (``name``, ``type``, ``owner``), or None."""
        return self.typed_value()

    def _fields_to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "connection_types": list(self.connection_types), **super()._fields_to_json()}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        element = super()._from_fields(data)
        element.user_id = data.get("user_id", "")
        element.connection_types = list(data.get("connection_types", []))
        return element


class TextInput(InputElement):
    """Free text typed by the user."""

    def __init__(
        self,
        value: str = "",
        description: str = "",
        title: str = "",
        show_title: bool = True,
        show_description: bool = True,
        required: bool = False,
        label: str = "",
        placeholder: str = "",
        page_update: Any = None,
        reference_id: str | None = "",
    ) -> None:
        """Create a text box holding ``value``."""
        super().__init__(
            ElementType.TEXT_INPUT,
            {},
            {},
            title,
            description,
            show_title,
            show_description,
            label,
            placeholder,
            page_update,
            reference_id=reference_id,
        )
        self.required = check_bool(required, "required", self._describe(), allow_none=False)
        self.set_value(value)

    def validate_value(self, value: Any) -> str:
        """Accept text (None counts as empty text)."""
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValidationError(
                f"{self._describe()} takes text, got {type(value).__name__} {value!r}; pass str(value)"
            )
        return value

    def has_value(self) -> bool:
        """Whether the text is not empty."""
        return self._value != ""

    def typed_value(self) -> str:
        """The text."""
        return self._value

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        return cls(required=data["required"])


class _Range(InputElement):
    """Shared behaviour of the range inputs: a selection ``(low, high)`` in ``[min_range, max_range]``."""

    def _coerce(self, value: Any, what: str) -> Any:
        raise NotImplementedError

    def _compare_le(self, a: Any, b: Any) -> bool:
        try:
            return bool(a <= b)
        except TypeError as exc:
            raise ValidationError(f"{self._describe()}: cannot compare {a!r} with {b!r} ({exc})") from exc

    def _init_range(self, min_range: Any, max_range: Any, min_selection: Any, max_selection: Any) -> None:
        self.min_range = self._coerce(min_range, "min_range")
        self.max_range = self._coerce(max_range, "max_range")
        if not self._compare_le(self.min_range, self.max_range):
            raise ValidationError(
                f"{self._describe()}: min_range {_show(self.min_range)} is greater than "
                f"max_range {_show(self.max_range)}"
            )
        self.set_value((min_selection, max_selection))

    @property
    def min_selection(self) -> Any:
        """The selected low end, or None."""
        return None if self._value is None else self._value[0]

    @property
    def max_selection(self) -> Any:
        """The selected high end, or None."""
        return None if self._value is None else self._value[1]

    def validate_value(self, value: Any) -> tuple[Any, Any] | None:
        """Accept None or ``(low, high)`` within the range with low <= high; either end may be None."""
        if value is None:
            return None
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            raise ValidationError(f"{self._describe()} takes a pair (low, high), got {value!r}")
        pair = list(value)
        if len(pair) != 2:
            raise ValidationError(f"{self._describe()} takes a pair (low, high), got {len(pair)} values {pair!r}")
        low = None if pair[0] is None else self._coerce(pair[0], "low end of the selection")
        high = None if pair[1] is None else self._coerce(pair[1], "high end of the selection")
        if low is None and high is None:
            return None
        bounds = f"[{_show(self.min_range)}, {_show(self.max_range)}]"
        for end in (low, high):
            if end is not None and not (
                self._compare_le(self.min_range, end) and self._compare_le(end, self.max_range)
            ):
                raise ValidationError(f"{self._describe()}: selection {_show(end)} is outside the range {bounds}")
        if low is not None and high is not None and not self._compare_le(low, high):
            raise ValidationError(f"{self._describe()}: selection low {_show(low)} is greater than high {_show(high)}")
        return (low, high)

    def has_value(self) -> bool:
        """Always true: with nothing selected the value is the full range."""
        return True

    def typed_value(self) -> tuple[Any, Any]:
        """``(low, high)``; an end not selected is the end of the range."""
        low, high = self._value if self._value is not None else (None, None)
        return (self.min_range if low is None else low, self.max_range if high is None else high)

    def value_from_text(self, text: str) -> tuple[Any, Any]:
        """Parse ``"low,high"`` or ``"low..high"`` (an end may be left empty)."""
        parts = text.split("..") if ".." in text else text.split(",")
        if len(parts) != 2:
            raise ValidationError(f"{self._describe()}: write a range as 'low,high' or 'low..high', got {text!r}")
        return tuple(part.strip() or None for part in parts)  # type: ignore[return-value]


class NumericRange(_Range):
    """A numeric interval the user narrows: ``(low, high)`` within ``[min_range, max_range]``.

    ``min_selection`` and ``max_selection`` default to ``min_range`` and ``max_range``, as in the SDK.

    With ``single=True`` the user picks one number (``get_value`` returns it): ``max_selection``
    sets it, as in the SDK ("for single sided sliders, this is the value to change to set
    defaults"), else ``min_selection``; with neither, it is ``min_range``.
    """

    def __init__(
        self,
        min_range: int | float,
        max_range: int | float,
        min_selection: int | float | None = None,
        max_selection: int | float | None = None,
        include_nulls_visible: bool = True,
        include_nulls_value: bool = False,
        title: str = "",
        description: str = "",
        single: bool = False,
        show_title: bool = True,
        show_description: bool = True,
        label: str = "",
        placeholder: str = "",
        step_size: float | int | None = None,
        page_update: Any = None,
        reference_id: str | None = "",
    ) -> None:
        """Create a range slider over ``[min_range, max_range]``."""
        super().__init__(
            ElementType.NUMERIC_RANGE,
            {},
            {},
            title,
            description,
            show_title,
            show_description,
            label,
            placeholder,
            page_update,
            reference_id=reference_id,
        )
        self.single = check_bool(single, "single", self._describe())
        self.include_nulls_visible = check_bool(include_nulls_visible, "include_nulls_visible", self._describe())
        self.include_nulls_value = check_bool(include_nulls_value, "include_nulls_value", self._describe())
        self.step_size = None if step_size is None else self._coerce(step_size, "step_size")
        if self.step_size is not None and self.step_size <= 0:
            raise ValidationError(f"{self._describe()}: step_size must be greater than 0, got {self.step_size!r}")
        self._init_range(min_range, max_range, min_selection, max_selection)

    @property
    def min_selection(self) -> int | float | None:
        """The selected low end: ``min_range`` when none was chosen, as in the SDK (``single``: None)."""
        low = None if self._value is None else self._value[0]
        return self.min_range if low is None and not self.single else low

    @property
    def max_selection(self) -> int | float | None:
        """The selected high end: ``max_range`` when none was chosen, as in the SDK (``single``: None)."""
        high = None if self._value is None else self._value[1]
        return self.max_range if high is None and not self.single else high

    def validate_value(self, value: Any) -> tuple[Any, Any] | None:
        """Accept ``(low, high)``; with ``single``, one number, or a pair whose high end (else its
        low end) is the number chosen, kept as ``(n, n)``."""
        if getattr(self, "single", False) and value is not None:
            if isinstance(value, numbers.Real | str) and not isinstance(value, bool | np.bool_):
                value = (value, value)
            elif isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
                pair = list(value)
                if len(pair) == 2:
                    chosen = pair[1] if pair[1] is not None else pair[0]
                    value = (chosen, chosen)
        return super().validate_value(value)

    def typed_value(self) -> Any:
        """``(low, high)``; with ``single``, the one number chosen (``min_range`` if none)."""
        low, high = super().typed_value()
        return low if self.single else (low, high)

    def value_from_text(self, text: str) -> Any:
        """Parse ``"low,high"`` (``"n"`` for a single value)."""
        if self.single and "," not in text and ".." not in text:
            return (text.strip(), text.strip())
        return super().value_from_text(text)

    def _coerce(self, value: Any, what: str) -> float | int:
        if isinstance(value, str):
            try:
                value = float(value) if any(c in value.lower() for c in ".en") else int(value)
            except ValueError:
                raise ValidationError(f"{self._describe()}: {what} {value!r} is not a number") from None
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            raise ValidationError(f"{self._describe()}: {what} must be a number, got {type(value).__name__} {value!r}")
        plain = value.item() if isinstance(value, np.generic) else value
        if isinstance(plain, float) and not math.isfinite(plain):
            raise ValidationError(f"{self._describe()}: {what} must be finite, got {plain!r}")
        return plain if isinstance(plain, int | float) else float(plain)

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "min_range": self.min_range,
            "max_range": self.max_range,
            "step_size": self.step_size,
            "single": self.single,
            "include_nulls_visible": self.include_nulls_visible,
            "include_nulls_value": self.include_nulls_value,
            **super()._fields_to_json(),
        }

    def _value_to_json(self) -> Any:
        return None if self._value is None else list(self._value)

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        element = cls.__new__(cls)
        NumericRange.__init__(
            element,
            data["min_range"],
            data["max_range"],
            include_nulls_visible=data.get("include_nulls_visible", True),
            include_nulls_value=data.get("include_nulls_value", False),
            single=data.get("single", False),
            step_size=data.get("step_size"),
        )
        return element


class NumericSlider(NumericRange):
    """One number the user picks on a slider over ``[min_range, max_range]``."""

    def __init__(
        self,
        min_range: int | float,
        max_range: int | float,
        selected: int | float | None = None,  # type: ignore[assignment]
        title: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        step_size: float | int | None = None,
        page_update: Any = None,
        reference_id: str | None = "",
    ) -> None:
        """Create a slider with ``selected`` chosen (one number, or None)."""
        if selected is not None and not isinstance(selected, numbers.Real | str):
            raise ValidationError(
                f"{type(self).__name__} {title!r}: selected takes one number, got {type(selected).__name__} "
                f"{selected!r}; pass one number such as 5, or use a NumericRangeSlider to choose a range (low, high)"
            )
        super().__init__(
            min_range,
            max_range,
            selected,
            selected,
            title=title,
            description=description,
            single=True,
            show_title=show_title,
            show_description=show_description,
            step_size=step_size,
            page_update=page_update,
            reference_id=reference_id,
        )

    def validate_value(self, value: Any) -> tuple[Any, Any] | None:
        """Accept one number (or numeric text), kept as ``(n, n)``; a list, tuple or other value is refused.

        A pair whose two ends are the same number is that number: the web UI sends the one value
        as both ends, and the page JSON stores it so.
        """
        if value is not None and not isinstance(value, numbers.Real | str):
            items = list(value) if isinstance(value, Iterable) and not isinstance(value, bytes | Mapping) else []
            # (None, None) is nothing chosen: the constructor passes ``selected`` as both ends.
            one = len(items) == 2 and (items[0] is None or isinstance(items[0], numbers.Real | str))
            if not one or items[0] != items[1]:
                raise ValidationError(
                    f"{self._describe()} takes one number, got {type(value).__name__} {value!r}; pass one number "
                    "such as 5 (a pair is taken only when its two ends are the same number), or use a "
                    "NumericRangeSlider to choose a range (low, high)"
                )
        return super().validate_value(value)


class NumericRangeSlider(NumericRange):
    """A range ``(low, high)`` the user narrows on a two-handled slider.

    ``min_selection`` and ``max_selection`` default to ``min_range`` and ``max_range``, as in the SDK.
    """

    def __init__(
        self,
        min_range: int | float,
        max_range: int | float,
        min_selection: int | float | None = None,
        max_selection: int | float | None = None,
        title: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        step_size: float | int | None = None,
        page_update: Any = None,
        reference_id: str | None = "",
    ) -> None:
        """Create a two-handled slider."""
        super().__init__(
            min_range,
            max_range,
            min_selection,
            max_selection,
            title=title,
            description=description,
            show_title=show_title,
            show_description=show_description,
            step_size=step_size,
            page_update=page_update,
            reference_id=reference_id,
        )


class DateTimeRange(_Range):
    """A period the user narrows: ``(start, end)`` datetimes within ``[min_range, max_range]``.

    Ends may be given as datetimes, dates or ISO text; they are kept as datetimes. With
    ``is_range=False`` the user picks one moment.

    ``get_value()`` answers in the SDK's form, text written with ``time_format``: a dict
    ``{"min": ..., "max": ...}``, or one text when ``is_range=False``. What a later step reads
    (``StoreInterface.get_element_value``, and :meth:`typed_value`) stays ``(start, end)`` as
    datetimes, or the one datetime when ``is_range=False``.
    """

    def __init__(
        self,
        min_range: dt.datetime,
        max_range: dt.datetime,
        min_selection: dt.datetime | None = None,
        max_selection: dt.datetime | None = None,
        include_nulls_visible: bool = True,
        include_nulls_value: bool = False,
        show_date: bool = True,
        show_time: bool = True,
        show_timezone: bool = True,
        is_range: bool = True,
        title: str = "",
        description: str = "",
        show_title: bool = True,
        show_description: bool = True,
        label: str = "",
        placeholder: str = "",
        timezone: str = "UTC",
        page_update: Any = None,
        reference_id: str | None = "",
    ) -> None:
        """Create a period picker over ``[min_range, max_range]``."""
        super().__init__(
            ElementType.DATE_TIME_RANGE,
            {},
            {},
            title,
            description,
            show_title,
            show_description,
            label,
            placeholder,
            page_update,
            reference_id=reference_id,
        )
        self.include_nulls_visible = check_bool(include_nulls_visible, "include_nulls_visible", self._describe())
        self.include_nulls_value = check_bool(include_nulls_value, "include_nulls_value", self._describe())
        self.show_date = check_bool(show_date, "show_date", self._describe())
        self.show_time = check_bool(show_time, "show_time", self._describe())
        self.show_timezone = check_bool(show_timezone, "show_timezone", self._describe())
        self.is_range = check_bool(is_range, "is_range", self._describe())
        if not isinstance(timezone, str) or not timezone:
            raise ValidationError(
                f"{self._describe()}: timezone must be a zone name such as 'Europe/Paris' or 'UTC', got {timezone!r}"
            )
        self.timezone = timezone
        if not loading_saved():
            # Checked now: an unknown zone would only show when a user's date is read in it.
            self._zone()
        self.time_format = "%Y-%m-%dT%H:%M:%S"
        if not self.is_range:
            # One moment: min_selection chooses it (max_selection when only that is given).
            chosen = min_selection if min_selection is not None else max_selection
            min_selection = max_selection = chosen
        self._init_range(min_range, max_range, min_selection, max_selection)
        self._initial_selection: tuple[Any, Any] | None = self._value

    def _coerce(self, value: Any, what: str) -> dt.datetime:
        moment = _parse_datetime(value, f"{self._describe()}: {what}")
        bound = getattr(self, "min_range", None)
        if moment.tzinfo is None and bound is not None and bound.tzinfo is not None:
            # A date without a zone, against a range with one: read in the element's own zone.
            moment = moment.replace(tzinfo=self._zone())
        return moment

    def _zone(self) -> dt.tzinfo:
        try:
            return zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(
                f"{self._describe()}: timezone {self.timezone!r} is not a known zone name; give an IANA zone "
                "name such as 'Europe/Paris' or 'UTC'"
            ) from exc

    def validate_value(self, value: Any) -> tuple[Any, Any] | None:
        """Accept ``(start, end)``; with ``is_range=False``, one moment, kept as ``(moment, moment)``.

        The moment is a datetime, a date or ISO text; a pair is accepted there only when its two
        ends are the same moment (or one is None). Anything else is a ``ValidationError``.
        """
        if getattr(self, "is_range", True) or value is None:
            return super().validate_value(value)
        if isinstance(value, str | dt.date | np.datetime64):
            return super().validate_value((value, value))
        one = "give one datetime, date or ISO text (e.g. '2024-05-01T12:00')"
        if isinstance(value, bytes | Mapping) or not isinstance(value, Iterable):
            raise ValidationError(
                f"{self._describe()} takes one moment (is_range=False): {one}, got {type(value).__name__} {value!r}"
            )
        pair = list(value)
        if len(pair) != 2:
            raise ValidationError(f"{self._describe()} takes one moment (is_range=False): {one}, got {pair!r}")
        low = None if pair[0] is None else self._coerce(pair[0], "the moment")
        high = None if pair[1] is None else self._coerce(pair[1], "the moment")
        if low is not None and high is not None and low != high:
            raise ValidationError(
                f"{self._describe()} takes one moment (is_range=False), got a period from {_show(low)} to "
                f"{_show(high)}; {one}, or make the element with is_range=True to select a period"
            )
        chosen = low if low is not None else high
        return super().validate_value((chosen, chosen))

    def value_from_text(self, text: str) -> Any:
        """Parse ``"start,end"`` or ``"start..end"``; with ``is_range=False``, one moment (``"2024-05-01"``)."""
        if not self.is_range:
            try:
                return _parse_datetime(text, "")
            except ValidationError:
                pass  # not one moment: read as a pair, which validate_value refuses unless both ends agree
        return super().value_from_text(text)

    def typed_value(self) -> Any:
        """``(start, end)``; with ``is_range=False`` the one moment chosen."""
        low, high = super().typed_value()
        return (low, high) if self.is_range else low

    def get_value(self) -> dict[str, str] | str:
        """The selection as the SDK gives it: ``{"min": text, "max": text}`` when ``is_range``, else
        the one moment as text (each written with ``time_format``; an end not selected is the end
        of the range). ``get_element_value`` still returns datetimes (see :meth:`typed_value`)."""
        low, high = super().typed_value()
        if self.is_range:
            return {"min": low.strftime(self.time_format), "max": high.strftime(self.time_format)}
        return low.strftime(self.time_format)

    def update_range(self, min_date: dt.datetime | None = None, max_date: dt.datetime | None = None) -> None:
        """Move the ends of the range; a selection now outside it is reset."""
        new_min = self.min_range if min_date is None else self._coerce(min_date, "min_date")
        new_max = self.max_range if max_date is None else self._coerce(max_date, "max_date")
        if new_min > new_max:
            raise ValidationError(f"{self._describe()}: min_date {_show(new_min)} is after max_date {_show(new_max)}")
        self.min_range, self.max_range = new_min, new_max
        try:
            self.set_value(self._value)
        except ValidationError:
            self.reset_selection()

    def reset_selection(self) -> None:
        """Restore the selection given when the element was made (``min_selection``/``max_selection``).

        Without one, or when it no longer fits the range (after :meth:`update_range`), nothing is
        selected: the whole range.
        """
        try:
            self.set_value(self._initial_selection)
        except ValidationError:
            self._value = None

    def update_selection(
        self,
        min_value: dt.datetime | None = None,
        max_value: dt.datetime | None = None,
        value: dt.datetime | None = None,
    ) -> None:
        """Select ``[min_value, max_value]``, or the one moment ``value`` (only when ``is_range=False``).

        Raises ValidationError (a ValueError) when ``value`` is given with ``min_value`` or
        ``max_value``, or when ``value`` is given while ``is_range=True``.
        """
        if value is not None:
            if min_value is not None or max_value is not None:
                raise ValidationError(
                    f"{self._describe()}: update_selection takes either value or min_value/max_value, not both"
                )
            if self.is_range:
                raise ValidationError(
                    f"{self._describe()}: update_selection(value=...) is for a single date (is_range=False); "
                    "this one is a range, so give min_value and max_value"
                )
            self.set_value((value, value))
        else:
            self.set_value((min_value, max_value))

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "min_range": self.min_range.isoformat(),
            "max_range": self.max_range.isoformat(),
            "include_nulls_visible": self.include_nulls_visible,
            "include_nulls_value": self.include_nulls_value,
            "show_date": self.show_date,
            "show_time": self.show_time,
            "show_timezone": self.show_timezone,
            "is_range": self.is_range,
            "timezone": self.timezone,
            "initial_selection": self._pair_to_json(self._initial_selection),
            **super()._fields_to_json(),
        }

    @staticmethod
    def _pair_to_json(pair: tuple[Any, Any] | None) -> list[str | None] | None:
        if pair is None:
            return None
        return [None if end is None else end.isoformat() for end in pair]

    def _value_to_json(self) -> Any:
        return self._pair_to_json(self._value)

    def _load_value(self, data: dict[str, Any]) -> None:
        self.set_value(self._saved_selection(data.get("value")))
        try:
            self._initial_selection = self.validate_value(self._saved_selection(data.get("initial_selection")))
        except ValidationError:
            self._initial_selection = None  # saved against a range that has moved since

    def _saved_selection(self, saved: Any) -> Any:
        """A stored selection as :meth:`validate_value` takes it now."""
        if not self.is_range and isinstance(saved, list) and len(saved) == 2 and saved[0] is not None:
            # Stored before one moment was enforced, a pair could have two ends: its start was the value.
            return (saved[0], saved[0])
        return saved

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        return cls(
            data["min_range"],
            data["max_range"],
            include_nulls_visible=data.get("include_nulls_visible", True),
            include_nulls_value=data.get("include_nulls_value", False),
            show_date=data.get("show_date", True),
            show_time=data.get("show_time", True),
            show_timezone=data.get("show_timezone", True),
            is_range=data.get("is_range", True),
            timezone=data.get("timezone", "UTC"),
        )


def _show(value: Any) -> str:
    """A range end as people read it: ISO text for datetimes, the literal for numbers."""
    return value.isoformat() if isinstance(value, dt.datetime) else repr(value)


def _parse_datetime(value: Any, what: str) -> dt.datetime:
    """Return ``value`` (datetime, date, numpy/pandas time or ISO text) as a ``datetime``."""
    if isinstance(value, pd.Timestamp):
        if value is pd.NaT:
            raise ValidationError(f"{what} is missing (NaT)")
        return value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, np.datetime64):
        return _parse_datetime(pd.Timestamp(value), what)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(f"{what} {value!r} is not an ISO date or datetime (e.g. 2024-05-01T12:00)") from None
    raise ValidationError(f"{what} must be a datetime, a date or ISO text, got {type(value).__name__} {value!r}")
