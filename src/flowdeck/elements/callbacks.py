"""Callback types and decorators, and how callbacks are kept in page JSON.

A callback is stored by reference: the module (or the file, for a flow loaded from a path) and
the qualified name of a module-level function, plus what its decorator declared. Running
callbacks is the runner's business; here they are only described, stored and loaded back.
"""

from __future__ import annotations

import enum
import importlib
import importlib.util
import inspect
import os
import sys
import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from flowdeck.errors import CallbackLoadError, ValidationError

if TYPE_CHECKING:
    from flowdeck.page.page import Card

__all__ = [
    "AssetDownloadCallback",
    "CallbackRef",
    "CallbackReturnType",
    "CallbackType",
    "ContainerToggleCallback",
    "DrilldownCallback",
    "DrilldownSize",
    "DrilldownType",
    "PageUpdateCallback",
    "StandardEventCallback",
    "auto_refresh_callback",
    "callback_from_json",
    "callback_to_json",
    "drilldown_callback",
    "page_update_callback",
    "row_action_callback",
    "standard_event_callback",
]

#: The attribute a decorator sets on the function it marks.
CALLBACK_ATTRIBUTE = "__flowdeck_callback__"


class CallbackType(enum.Enum):
    """What a callback does when it runs."""

    STANDARD = "standard"
    ASSET_DOWNLOAD = "asset_download"
    DRILLDOWN = "drilldown"
    PAGE_UPDATE = "page_update"
    CONTAINER_TOGGLE = "container_toggle"

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class CallbackReturnType(enum.Enum):
    """What a callback hands back to the page."""

    CARD = "card"
    PAGE = "page"
    TEXT = "text"
    HEADLESS = "headless"

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class DrilldownType(enum.Enum):
    """How a drilldown card is shown."""

    FAST_MODAL = "fast_modal"
    MODAL = "modal"
    POPOVER = "popover"

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class DrilldownSize(enum.Enum):
    """How large a drilldown card is shown."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    SHEET = "sheet"

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class DrilldownCallback(Protocol):
    """``drilldown(card, input_data, store_interface)`` fills a temporary card."""

    def __call__(
        self, card: Card, input_data: dict[str, str | float | int], store_interface: Any
    ) -> Coroutine[Any, Any, None] | None:
        """Fill ``card`` from ``input_data``."""


class PageUpdateCallback(Protocol):
    """``page_update(store_interface, input_data=None, **step_clients)`` changes the page."""

    def __call__(
        self, store_interface: Any, input_data: dict[str, Any] | None, **step_clients: dict[str, Any] | None
    ) -> Coroutine[Any, Any, None] | None:
        """Change the page through ``store_interface``."""


class StandardEventCallback(Protocol):
    """``standard_event(store_interface, **step_clients) -> str`` returns a message."""

    def __call__(self, store_interface: Any, **step_clients: dict[str, Any] | None) -> Coroutine[Any, Any, str] | str:
        """Do something and return a message for the user."""


class ContainerToggleCallback:
    """Shows (``visible=True``) or hides the container with id ``container_id``."""

    def __init__(self, visible: bool, container_id: str) -> None:
        """Create a toggle of the container ``container_id``."""
        if not isinstance(container_id, str) or not container_id:
            raise ValidationError(f"ContainerToggleCallback needs a container id, got {container_id!r}")
        # Imported here: the element base module imports this one.
        from flowdeck.elements.base import check_bool

        self.visibility = check_bool(visible, "visible", f"ContainerToggleCallback for {container_id!r}")
        self.container_id = container_id
        self.callback_type = CallbackType.CONTAINER_TOGGLE

    def to_json(self) -> dict[str, Any]:
        """The JSON form kept on the page."""
        return {
            "callback_type": self.callback_type.value,
            "visible": self.visibility,
            "container_id": self.container_id,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ContainerToggleCallback):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]


class AssetDownloadCallback:
    """Lets the user download ``asset`` (as ``extension``, with ``mime_type``) from a button.

    ``label`` (the download's name) defaults to the asset's label.
    """

    def __init__(
        self, asset: Any, extension: str = "csv", mime_type: str | None = None, label: str | None = None
    ) -> None:
        """Create a download of ``asset`` (an Asset, or the JSON reference of one)."""
        self.asset = asset
        self.extension = extension
        self.mime_type = mime_type
        if label is None:
            label = asset.get("label") if isinstance(asset, Mapping) else getattr(asset, "label", None)
        self.label = label
        self.callback_type = CallbackType.ASSET_DOWNLOAD

    def _asset_reference(self) -> dict[str, Any]:
        if isinstance(self.asset, Mapping):
            return dict(self.asset)
        asset_type = getattr(self.asset, "type", None)
        return {
            "asset_id": getattr(self.asset, "asset_id", None),
            "label": getattr(self.asset, "label", None),
            "type": getattr(asset_type, "value", asset_type),
            "name": getattr(self.asset, "name", None),
            "version": getattr(self.asset, "version", None),
        }

    def to_json(self) -> dict[str, Any]:
        """The JSON form kept on the page (the asset by reference, never its bytes)."""
        return {
            "callback_type": self.callback_type.value,
            "asset": self._asset_reference(),
            "extension": self.extension,
            "mime_type": self.mime_type,
            "label": self.label,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AssetDownloadCallback):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]


class CallbackRef:
    """A stored callback: where its function lives and what its decorator declared.

    :meth:`resolve` imports the module (or loads the file) and returns the function.
    """

    def __init__(self, module: str, qualname: str, file: str | None = None, **meta: Any) -> None:
        """Refer to ``module.qualname`` (loaded from ``file`` when the module is not importable)."""
        self.module = module
        self.qualname = qualname
        self.file = file
        self.meta = dict(meta)

    @classmethod
    def of(cls, func: Callable[..., Any]) -> CallbackRef:
        """Return the reference of a module-level function (or method of a module-level class)."""
        qualname = getattr(func, "__qualname__", None)
        module = getattr(func, "__module__", None)
        if not qualname or not module or "<" in qualname:
            raise ValidationError(
                f"callback {func!r} cannot be stored: callbacks are kept by reference, so define it "
                "with def at module level (not a lambda or a nested function)"
            )
        file: str | None = None
        if not _importable(module):
            try:
                file = inspect.getsourcefile(func)
            except TypeError:
                file = None
        meta = dict(getattr(func, CALLBACK_ATTRIBUTE, {}))
        meta["is_async"] = inspect.iscoroutinefunction(func)
        return cls(module, qualname, file, **meta)

    def resolve(self) -> Callable[..., Any]:
        """Import and return the function this refers to."""
        try:
            if self.file is not None and (self.module == "__main__" or self.module not in sys.modules):
                module = _module_of_file(self.module, self.file)
            else:
                module = importlib.import_module(self.module)
            key = (self.module, self.qualname, self.file)
            cached = _resolved.get(key)
            if cached is not None and cached[0] is module:  # the same module (a changed file is a new one)
                return cached[1]
            target: Any = module
            for part in self.qualname.split("."):
                target = getattr(target, part)
            _resolved[key] = (module, target)
        except (ImportError, AttributeError, OSError) as exc:
            where = self.file or self.module
            raise CallbackLoadError(
                f"callback {self.qualname!r} from {where!r} cannot be loaded ({exc}); "
                "keep the function at module level under the same name"
            ) from exc
        return target

    def to_json(self) -> dict[str, Any]:
        """The JSON form kept on the page."""
        return {
            "callback_type": "function",
            "module": self.module,
            "qualname": self.qualname,
            "file": self.file,
            "meta": dict(self.meta),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CallbackRef):
            return NotImplemented
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CallbackRef({self.module}.{self.qualname})"


def _importable(module: str) -> bool:
    """Whether another process can import ``module`` by name (not ``__main__``, not a file loaded by path)."""
    if module == "__main__":
        return False
    top = module.partition(".")[0]
    for finder in sys.meta_path:  # the finders, not sys.modules: a file loaded by path is there too
        find = getattr(finder, "find_spec", None)
        try:
            if find is not None and find(top, None) is not None:
                return True
        except (ImportError, ValueError, TypeError):
            continue
    return False


_file_modules: dict[str, tuple[float, Any]] = {}
#: Resolved references: (module, qualname, file) → (the module they were found in, the function).
_resolved: dict[tuple[str, str, str | None], tuple[Any, Any]] = {}
_file_modules_lock = threading.Lock()


def _module_of_file(name: str, file: str) -> Any:
    """The module of a callback kept by file: this process's ``__main__`` when it is that file, else the
    file loaded once (again when it changed) under a private name, so its ``__main__`` block does not run."""
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if name == "__main__" and main_file and os.path.abspath(main_file) == os.path.abspath(file):
        return main
    changed = os.stat(file).st_mtime
    with _file_modules_lock:
        cached = _file_modules.get(file)
        if cached is not None and cached[0] == changed:
            return cached[1]
        private = f"_flowdeck_callbacks_{abs(hash(file))}"
        spec = importlib.util.spec_from_file_location(private, file)
        if spec is None or spec.loader is None:
            raise ImportError(file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _file_modules[file] = (changed, module)
        return module


def callback_to_json(callback: Any) -> dict[str, Any] | None:
    """Return the JSON form of a callback (None for none); a function is kept by reference."""
    if callback is None:
        return None
    if isinstance(callback, ContainerToggleCallback | AssetDownloadCallback | CallbackRef):
        return callback.to_json()
    if callable(callback):
        return CallbackRef.of(callback).to_json()
    raise ValidationError(f"a callback must be a function, got {type(callback).__name__} {callback!r}")


def callback_from_json(data: Mapping[str, Any] | None) -> Any:
    """Return the callback a JSON form describes (functions come back as :class:`CallbackRef`)."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise ValidationError(f"stored callback must be an object, got {data!r}")
    kind = data.get("callback_type")
    if kind == CallbackType.CONTAINER_TOGGLE.value:
        return ContainerToggleCallback(data["visible"], data["container_id"])
    if kind == CallbackType.ASSET_DOWNLOAD.value:
        return AssetDownloadCallback(data["asset"], data["extension"], data["mime_type"], data["label"])
    if kind == "function":
        return CallbackRef(data["module"], data["qualname"], data.get("file"), **dict(data.get("meta") or {}))
    raise ValidationError(f"unknown stored callback type {kind!r}")


#: How each kind of callback is called: its positional arguments, and the definition it needs.
_CALLED_WITH = {
    CallbackType.PAGE_UPDATE.value: (1, "(store_interface, input_data=None, **step_clients)"),
    CallbackType.STANDARD.value: (1, "(store_interface, **step_clients)"),
    CallbackType.DRILLDOWN.value: (3, "(card, input_data, store_interface)"),
}


def _mark(func: Callable[..., Any], **meta: Any) -> Callable[..., Any]:
    if not callable(func):
        raise ValidationError(f"a callback decorator marks a function, got {type(func).__name__} {func!r}")
    positional, form = _CALLED_WITH[meta["callback_type"]]
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # a builtin or an object that does not tell
        signature = None
    if signature is not None:
        try:
            signature.bind(*([None] * positional))
        except TypeError as exc:
            name = getattr(func, "__name__", "callback")
            raise ValidationError(
                f"{meta['callback_type']} callback {name}{signature} cannot take the arguments it is called "
                f"with ({exc}); define it as def {name}{form}"
            ) from None
    try:
        setattr(func, CALLBACK_ATTRIBUTE, {**getattr(func, CALLBACK_ATTRIBUTE, {}), **meta})
    except AttributeError:  # a builtin or an object without attributes
        raise ValidationError(
            f"a callback decorator marks a function defined with def at module level, got {func!r}"
        ) from None
    return func


def page_update_callback(func: PageUpdateCallback) -> PageUpdateCallback:
    """Mark ``func`` as a page-update callback (it changes the page)."""
    return _mark(func, callback_type=CallbackType.PAGE_UPDATE.value)  # type: ignore[return-value]


def standard_event_callback(func: StandardEventCallback) -> StandardEventCallback:
    """Mark ``func`` as a standard-event callback (it returns a message)."""
    return _mark(func, callback_type=CallbackType.STANDARD.value)  # type: ignore[return-value]


def auto_refresh_callback(refresh_rate_seconds: int = 500) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a page-update callback to run every ``refresh_rate_seconds`` (``Page(on_auto_refresh=)``)."""
    if isinstance(refresh_rate_seconds, bool) or not isinstance(refresh_rate_seconds, int) or refresh_rate_seconds <= 0:
        raise ValidationError(f"refresh_rate_seconds must be a whole number > 0, got {refresh_rate_seconds!r}")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        return _mark(func, callback_type=CallbackType.PAGE_UPDATE.value, refresh_rate_seconds=refresh_rate_seconds)

    return decorate


def row_action_callback(title: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a drilldown callback as a Table row action titled ``title``."""
    if not isinstance(title, str) or not title:
        raise ValidationError(f"a row action needs a title, got {title!r}")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        return _mark(func, callback_type=CallbackType.DRILLDOWN.value, row_action_title=title)

    return decorate


def drilldown_callback(
    drilldown_type: DrilldownType, drilldown_size: DrilldownSize
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a drilldown callback, shown as ``drilldown_type`` of ``drilldown_size``."""
    kind = DrilldownType(drilldown_type)
    size = DrilldownSize(drilldown_size)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        return _mark(
            func,
            callback_type=CallbackType.DRILLDOWN.value,
            drilldown_type=kind.value,
            drilldown_size=size.value,
        )

    return decorate
