"""Input elements: what the user uploads, picks or types on a page."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from flowdeck import formats
from flowdeck.elements.base import InputElement, to_jsonable
from flowdeck.errors import ValidationError

__all__ = ["DataSource", "DateTimeRange", "Dropdown", "NumericRange", "TextInput"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DataSource(InputElement):
    """A file upload.

    ``options`` are the accepted formats (csv, tsv, xlsx, json, parquet); with ``raw_upload=True``
    they are file extensions (any; none means every file) and the bytes are kept as they are. The
    ``value`` describes the upload: ``filename``, ``size``, ``sha256`` and ``uploaded_at`` (ISO text),
    plus any further keys the store records.
    """

    default_required: ClassVar[bool] = True
    UPLOAD_KEYS: ClassVar[tuple[str, ...]] = ("filename", "size", "sha256", "uploaded_at")

    def __init__(
        self,
        title: str = "",
        options: Iterable[str] | str | None = None,
        required: bool = True,
        raw_upload: bool = False,
        description: str = "",
        *,
        id: str | None = None,
        **extra: Any,
    ) -> None:
        """Create an upload accepting ``options`` (default ``["csv"]``)."""
        super().__init__(title, description, required=required, id=id, **extra)
        self.raw_upload = bool(raw_upload)
        self.options = self._check_options(["csv"] if options is None else options)

    def _check_options(self, options: Iterable[str] | str) -> list[str]:
        if isinstance(options, str):
            options = [options]
        cleaned: list[str] = []
        for option in options:
            if not isinstance(option, str) or not option.strip(". "):
                raise ValidationError(f"{self._describe()}: option {option!r} is not a file format name")
            name = option.strip().lstrip(".").lower()
            if not self.raw_upload and name not in formats.SUPPORTED_FORMATS:
                raise ValidationError(
                    f"{self._describe()}: unknown option {option!r}; valid options are "
                    f"{', '.join(formats.SUPPORTED_FORMATS)} "
                    "(or pass raw_upload=True to keep any file as bytes)"
                )
            if name not in cleaned:
                cleaned.append(name)
        if not cleaned and not self.raw_upload:
            raise ValidationError(
                f"{self._describe()}: needs at least one option among {', '.join(formats.SUPPORTED_FORMATS)}"
            )
        return cleaned

    @staticmethod
    def describe_upload(
        filename: str, data: bytes, uploaded_at: dt.datetime | str | None = None
    ) -> dict[str, Any]:
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
            raise ValidationError(
                f"{self._describe()}: upload size must be a whole number >= 0, got {size!r}"
            )
        if not isinstance(out["sha256"], str) or not _SHA256.match(out["sha256"]):
            raise ValidationError(f"{self._describe()}: upload sha256 must be 64 lower-case hex digits")
        out["uploaded_at"] = _parse_datetime(
            out["uploaded_at"], f"{self._describe()}: uploaded_at"
        ).isoformat()
        return to_jsonable(out)

    def value_from_text(self, text: str) -> Any:
        """Refused: a file is uploaded, not typed."""
        raise ValidationError(f"{self._describe()} takes an uploaded file, not text; upload {text!r} instead")

    def _fields_to_json(self) -> dict[str, Any]:
        return {"options": list(self.options), "raw_upload": self.raw_upload, **super()._fields_to_json()}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        return cls(
            data["title"],
            data["options"],
            data["required"],
            data["raw_upload"],
            data["description"],
            id=data["id"],
            **data["extra"],
        )


class Dropdown(InputElement):
    """A choice among ``options``: one, or a list of them when ``multiselect``."""

    def __init__(
        self,
        options: Iterable[Any] | None = None,
        selected: Any = None,
        multiselect: bool = False,
        title: str = "",
        required: bool = False,
        description: str = "",
        *,
        id: str | None = None,
        **extra: Any,
    ) -> None:
        """Create a dropdown offering ``options`` with ``selected`` chosen (none by default)."""
        super().__init__(title, description, required=required, id=id, **extra)
        self.multiselect = bool(multiselect)
        self.options = self._check_options(options)
        self.set_value(selected)

    def _check_options(self, options: Iterable[Any] | None) -> list[Any]:
        if options is None:
            return []
        if isinstance(options, str | bytes | Mapping) or not isinstance(options, Iterable):
            raise ValidationError(
                f"{self._describe()}: options must be a list, got {type(options).__name__} {options!r}"
            )
        cleaned = [to_jsonable(option) for option in options]
        for option in cleaned:
            if isinstance(option, list | dict):
                raise ValidationError(f"{self._describe()}: option {option!r} must be text or a number")
        return cleaned

    @property
    def selected(self) -> Any:
        """The selection (same as ``value``)."""
        return self._value

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
        raise ValidationError(
            f"{self._describe()}: {choice!r} is not among the options "
            f"[{', '.join(repr(option) for option in self.options)}]"
        )

    def validate_value(self, value: Any) -> Any:
        """Accept None or an option; with ``multiselect``, a list of options (a single one is wrapped)."""
        if value is None:
            return [] if self.multiselect else None
        if self.multiselect:
            if isinstance(value, str) or not isinstance(value, Iterable):
                value = [value]
            return [self._match(choice) for choice in value]
        if isinstance(value, list | tuple | set):
            raise ValidationError(
                f"{self._describe()} takes one selection, got a list {list(value)!r}; "
                "pass one option, or create the dropdown with multiselect=True"
            )
        return self._match(value)

    def has_value(self) -> bool:
        """Whether something is selected."""
        return bool(self._value) if self.multiselect else self._value is not None

    def typed_value(self) -> Any:
        """The selection: an option, None, or (multiselect) a list of options."""
        return list(self._value) if self.multiselect else self._value

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
        return {"options": list(self.options), "multiselect": self.multiselect, **super()._fields_to_json()}

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        return cls(
            data["options"],
            None,
            data["multiselect"],
            data["title"],
            data["required"],
            data["description"],
            id=data["id"],
            **data["extra"],
        )


class TextInput(InputElement):
    """Free text typed by the user."""

    def __init__(
        self,
        value: str = "",
        title: str = "",
        required: bool = False,
        description: str = "",
        *,
        id: str | None = None,
        **extra: Any,
    ) -> None:
        """Create a text box holding ``value``."""
        super().__init__(title, description, required=required, id=id, **extra)
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
        return cls("", data["title"], data["required"], data["description"], id=data["id"], **data["extra"])


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
            raise ValidationError(
                f"{self._describe()} takes a pair (low, high), got {len(pair)} values {pair!r}"
            )
        low = None if pair[0] is None else self._coerce(pair[0], "low end of the selection")
        high = None if pair[1] is None else self._coerce(pair[1], "high end of the selection")
        if low is None and high is None:
            return None
        bounds = f"[{_show(self.min_range)}, {_show(self.max_range)}]"
        for end in (low, high):
            if end is not None and not (
                self._compare_le(self.min_range, end) and self._compare_le(end, self.max_range)
            ):
                raise ValidationError(
                    f"{self._describe()}: selection {_show(end)} is outside the range {bounds}"
                )
        if low is not None and high is not None and not self._compare_le(low, high):
            raise ValidationError(
                f"{self._describe()}: selection low {_show(low)} is greater than high {_show(high)}"
            )
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
            raise ValidationError(
                f"{self._describe()}: write a range as 'low,high' or 'low..high', got {text!r}"
            )
        return tuple(part.strip() or None for part in parts)  # type: ignore[return-value]


class NumericRange(_Range):
    """A numeric interval the user narrows: ``(low, high)`` within ``[min_range, max_range]``."""

    def __init__(
        self,
        min_range: float,
        max_range: float,
        min_selection: float | None = None,
        max_selection: float | None = None,
        title: str = "",
        step: float | None = None,
        required: bool = False,
        description: str = "",
        *,
        id: str | None = None,
        **extra: Any,
    ) -> None:
        """Create a range slider over ``[min_range, max_range]``."""
        super().__init__(title, description, required=required, id=id, **extra)
        self.step = None if step is None else self._coerce(step, "step")
        if self.step is not None and self.step <= 0:
            raise ValidationError(f"{self._describe()}: step must be greater than 0, got {self.step!r}")
        self._init_range(min_range, max_range, min_selection, max_selection)

    def _coerce(self, value: Any, what: str) -> float | int:
        if isinstance(value, str):
            try:
                value = float(value) if any(c in value.lower() for c in ".en") else int(value)
            except ValueError:
                raise ValidationError(f"{self._describe()}: {what} {value!r} is not a number") from None
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            raise ValidationError(
                f"{self._describe()}: {what} must be a number, got {type(value).__name__} {value!r}"
            )
        plain = value.item() if isinstance(value, np.generic) else value
        if isinstance(plain, float) and not math.isfinite(plain):
            raise ValidationError(f"{self._describe()}: {what} must be finite, got {plain!r}")
        return plain if isinstance(plain, int | float) else float(plain)

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "min_range": self.min_range,
            "max_range": self.max_range,
            "step": self.step,
            **super()._fields_to_json(),
        }

    def _value_to_json(self) -> Any:
        return None if self._value is None else list(self._value)

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        return cls(
            data["min_range"],
            data["max_range"],
            None,
            None,
            data["title"],
            data["step"],
            data["required"],
            data["description"],
            id=data["id"],
            **data["extra"],
        )


class DateTimeRange(_Range):
    """A period the user narrows: ``(start, end)`` datetimes within ``[min_range, max_range]``.

    Ends may be given as datetimes, dates or ISO text; they are kept as datetimes.
    """

    def __init__(
        self,
        min_range: dt.datetime | dt.date | str,
        max_range: dt.datetime | dt.date | str,
        min_selection: dt.datetime | dt.date | str | None = None,
        max_selection: dt.datetime | dt.date | str | None = None,
        title: str = "",
        required: bool = False,
        description: str = "",
        *,
        id: str | None = None,
        **extra: Any,
    ) -> None:
        """Create a period picker over ``[min_range, max_range]``."""
        super().__init__(title, description, required=required, id=id, **extra)
        self._init_range(min_range, max_range, min_selection, max_selection)

    def _coerce(self, value: Any, what: str) -> dt.datetime:
        return _parse_datetime(value, f"{self._describe()}: {what}")

    def _fields_to_json(self) -> dict[str, Any]:
        return {
            "min_range": self.min_range.isoformat(),
            "max_range": self.max_range.isoformat(),
            **super()._fields_to_json(),
        }

    def _value_to_json(self) -> Any:
        if self._value is None:
            return None
        return [None if end is None else end.isoformat() for end in self._value]

    @classmethod
    def _from_fields(cls, data: dict[str, Any]) -> Self:
        return cls(
            data["min_range"],
            data["max_range"],
            None,
            None,
            data["title"],
            data["required"],
            data["description"],
            id=data["id"],
            **data["extra"],
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
            raise ValidationError(
                f"{what} {value!r} is not an ISO date or datetime (e.g. 2024-05-01T12:00)"
            ) from None
    raise ValidationError(
        f"{what} must be a datetime, a date or ISO text, got {type(value).__name__} {value!r}"
    )
