"""The few SDK names that are not flowdeck classes: placeholders for what flowdeck does not host,
the SDK's progress bar and drilldown store, and small utilities.
"""

from __future__ import annotations

import base64
import enum
import importlib
import mimetypes
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flowdeck.elements.base import check_keywords
from flowdeck.errors import FlowdeckError, ValidationError
from flowdeck.errors import PredictException as PredictException
from flowdeck.flow.callbacks import DrilldownStoreInterface as DrilldownStoreInterface

__all__ = [
    "DrilldownStoreInterface",
    "ExtendedEnum",
    "PredictException",
    "StepProgressTqdm",
    "compare_platform_version",
    "df_to_compact_markdown",
    "get_img_base64",
    "get_platform_version_info",
    "optional",
    "unhosted_class",
    "unhosted_function",
]

#: The SDK version whose names this package provides.
SDK_VERSION = "1.62.0"


def unhosted_error(name: str, feature: str) -> FlowdeckError:
    """The error raised when code uses something flowdeck does not host."""
    return FlowdeckError(
        f"{name}: {feature} is a feature of the hosted platform that flowdeck does not provide. "
        "It imports and constructs so that code written for the platform loads, but it cannot be used; "
        "remove the call or guard it"
    )


class _Unhosted:
    """Base of the placeholders: construction works, any other use raises FlowdeckError."""

    _feature = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__["_args"] = args
        self.__dict__["_kwargs"] = kwargs

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise unhosted_error(f"{type(self).__name__}.{name}", self._feature)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise unhosted_error(type(self).__name__, self._feature)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: not available in flowdeck>"


def unhosted_class(name: str, feature: str) -> type:
    """A placeholder class called ``name`` for ``feature``, which flowdeck does not host."""
    return type(name, (_Unhosted,), {"_feature": feature, "__doc__": f"{feature}: not hosted by flowdeck."})


def unhosted_function(name: str, feature: str) -> Callable[..., Any]:
    """A placeholder function called ``name`` that raises FlowdeckError when called."""

    def placeholder(*args: Any, **kwargs: Any) -> Any:
        raise unhosted_error(name, feature)

    placeholder.__name__ = placeholder.__qualname__ = name
    placeholder.__doc__ = f"{feature}: not hosted by flowdeck."
    return placeholder


def optional(name: str, where: str) -> Any:
    """The flowdeck object ``name`` (triggers and headless runs), or a placeholder if not installed."""
    for module_name in ("flowdeck", "flowdeck.triggers", "flowdeck.flow.headless"):
        try:
            module = importlib.import_module(module_name)
            return getattr(module, name)
        except (ImportError, AttributeError):
            continue
    feature = f"{where}.{name} (flowdeck's triggers and headless runs)"
    if name[:1].isupper():
        return unhosted_class(name, feature)
    return unhosted_function(name, feature)


class ExtendedEnum(enum.Enum):
    """An Enum with name checks (``get_valid_enums``, ``check_valid_enum``, ``validate``)."""

    @classmethod
    def get_valid_enums(cls) -> list[Any]:
        """The valid values."""
        return [member.value for member in cls]

    @classmethod
    def check_valid_enum(cls, e: str) -> bool:
        """Whether ``e`` is a value or name of the enum."""
        return cls.validate(e) is not None

    @classmethod
    def validate(cls, e: Any, return_none: bool = True) -> Any:
        """The member ``e`` is or names; None (or ValidationError unless ``return_none``) otherwise."""
        for member in cls:
            if e is member or e == member.value or (isinstance(e, str) and e.lower() == member.name.lower()):
                return member
        if return_none:
            return None
        raise ValidationError(f"{e!r} is not a {cls.__name__}; use one of {cls.get_valid_enums()}")


class StepProgressTqdm:
    """A progress counter over ``total`` items that reports to the step's progress.

    Progress moves from ``starting_progress`` to ``target_progress`` as :meth:`update` counts the
    items; it is reported (``store.update_progress``) each time it advances by ``step_size``
    percentage points, and passed to ``callback`` if given. ``store`` is the
    ``StoreInterface(**flow_metadata)`` it reports to; with ``flow_metadata=None`` it is None and
    the counter only counts (and calls ``callback``), as the SDK's does without a store.
    """

    _TQDM_KEYWORDS = ("desc", "leave", "disable", "unit", "unit_scale", "position", "file", "ncols", "mininterval")

    def __init__(
        self,
        flow_metadata: Mapping[str, Any] | None,
        total: int,
        starting_progress: int = 0,
        target_progress: int = 100,
        step_size: int = 10,
        callback: Callable[[float], Any] | None = None,
        call_super_update: bool = True,
        init_update: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Count ``total`` items of the step described by ``flow_metadata``."""
        check_keywords("StepProgressTqdm", kwargs, self._TQDM_KEYWORDS, StepProgressTqdm.__init__)
        if isinstance(total, bool) or not isinstance(total, int) or total <= 0:
            raise ValidationError(f"StepProgressTqdm total must be a whole number > 0, got {total!r}")
        if not 0 <= starting_progress <= target_progress <= 100:
            raise ValidationError(
                "StepProgressTqdm needs 0 <= starting_progress <= target_progress <= 100, "
                f"got {starting_progress!r} and {target_progress!r}"
            )
        from flowdeck.store.store_interface import StoreInterface

        self.flow_metadata = dict(flow_metadata) if flow_metadata is not None else None
        self.store: StoreInterface | None = (
            StoreInterface(**self.flow_metadata) if self.flow_metadata is not None else None
        )
        self.total = total
        self.n = 0
        self.starting_progress = starting_progress
        self.target_progress = target_progress
        self.step_size = step_size
        self.callback = callback
        self.call_super_update = call_super_update
        self.desc = kwargs.get("desc") or ""
        self._reported = float(starting_progress)
        if init_update is not None:
            self._report(float(starting_progress), init_update)

    @property
    def progress(self) -> float:
        """The step's progress this counter stands for."""
        share = min(self.n, self.total) / self.total
        return self.starting_progress + share * (self.target_progress - self.starting_progress)

    def _report(self, progress: float, message: str) -> None:
        if self.store is not None:
            self.store.update_progress(progress, message)
        self._reported = progress

    def update(self, n: int = 1) -> None:
        """Count ``n`` more items; report when progress advanced by ``step_size`` or reached the end."""
        self.n += n
        progress = self.progress
        if self.callback is not None:
            self.callback(progress)
        if progress - self._reported >= self.step_size or (self.n >= self.total and progress > self._reported):
            self._report(progress, self.desc or f"{min(self.n, self.total)} of {self.total}")

    def close(self) -> None:
        """Finish (nothing to release)."""

    def __enter__(self) -> StepProgressTqdm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get_img_base64(filepath: str | Path) -> str:
    """The image file at ``filepath`` as a ``data:`` URI (base64)."""
    path = Path(filepath)
    if not path.is_file():
        raise ValidationError(f"no image file at {str(path)!r}")
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def get_platform_version_info() -> tuple[int, int, int]:
    """The SDK version flowdeck follows, as (major, minor, patch)."""
    major, minor, patch = (int(part) for part in SDK_VERSION.split("."))
    return major, minor, patch


def compare_platform_version(version: str, comparison: str = ">=") -> bool:
    """Whether the SDK version flowdeck follows compares to ``version`` as ``comparison`` says."""
    import operator

    ops = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
    if comparison not in ops:
        raise ValidationError(f"comparison must be one of {', '.join(ops)}, got {comparison!r}")
    wanted = tuple(int(part) for part in version.split("."))
    return ops[comparison](get_platform_version_info()[: len(wanted)], wanted)


def df_to_compact_markdown(
    df: Any, title: str | None = None, max_rows: int | None = 10, max_cols: int | None = None
) -> str:
    """A small Markdown table of ``df`` (at most ``max_rows`` rows and ``max_cols`` columns)."""
    frame = df if max_cols is None else df.iloc[:, :max_cols]
    frame = frame if max_rows is None else frame.head(max_rows)
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    lines = ([f"**{title}**", ""] if title else []) + [header, rule, *rows]
    return "\n".join(lines)
