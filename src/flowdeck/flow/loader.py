"""Finding where a flow is defined, and loading it again in another process."""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

from flowdeck.errors import ValidationError
from flowdeck.flow.model import Flow

__all__ = [
    "flow_file_version",
    "flow_reference",
    "load_flow",
    "load_flow_file",
    "reload_flow_file",
    "remember_flow",
    "remembered_flow",
]

_lock = threading.Lock()
_file_lock = threading.RLock()  # held while a flow file's module is loaded (its code may load another)
_by_run: dict[str, Flow] = {}
_by_ref: dict[str, Flow] = {}
_versions: dict[Path, str] = {}  # flow file -> digest of the source its loaded module ran


def _attribute_of(module: ModuleType, flow: Flow) -> str | None:
    for attr, value in list(vars(module).items()):
        if value is flow and not attr.startswith("_"):
            return attr
    return None


def flow_reference(flow: Flow) -> str | None:
    """``module:attr`` or ``/path/file.py:attr`` naming where ``flow`` is defined, or None.

    The answer is remembered per flow object: a reference is used again while its module still
    holds the flow under that name; "none" is used again while no module was imported or removed
    since and ``__main__`` (an interactive session) does not hold the flow either.
    """
    with _lock:
        for ref, known in _by_ref.items():
            if known is flow:
                return ref
        cached = _found.get(id(flow))
    if cached is not None and cached[0] is flow:
        _, ref, module_name, attr, modules = cached
        if ref is not None:
            module = sys.modules.get(module_name or "")
            if module is not None and attr is not None and getattr(module, attr, None) is flow:
                return ref
        elif modules == len(sys.modules):
            main = sys.modules.get("__main__")
            if main is None or _attribute_of(main, flow) is None:
                return None
    ref, module_name, attr = _search(flow)
    with _lock:
        if len(_found) > 1000:
            _found.clear()
        _found[id(flow)] = (flow, ref, module_name, attr, len(sys.modules))
    return ref


# id(flow) -> (flow, reference, module holding it, its attribute there, len(sys.modules) then)
_found: dict[int, tuple[Flow, str | None, str | None, str | None, int]] = {}


def _search(flow: Flow) -> tuple[str | None, str | None, str | None]:
    """(reference, module name, attribute) of ``flow``, searching every loaded module."""
    candidates: list[tuple[str, str, str]] = []
    for name, module in list(sys.modules.items()):
        if module is None or name.startswith("_flowdeck_flowfile_"):
            continue
        try:
            attr = _attribute_of(module, flow)
        except Exception:  # noqa: S112 - a module that misbehaves on vars() cannot hold the flow
            continue
        if attr is None:
            continue
        file = getattr(module, "__file__", None)
        if name == "__main__" or (name not in ("builtins",) and file and _not_importable(name)):
            if file:
                candidates.append((f"{Path(file).resolve()}:{attr}", name, attr))
        else:
            return f"{name}:{attr}", name, attr
    for name, module in list(sys.modules.items()):
        if name.startswith("_flowdeck_flowfile_"):
            attr = _attribute_of(module, flow)
            if attr and getattr(module, "__file__", None):
                return f"{Path(module.__file__).resolve()}:{attr}", name, attr
    return candidates[0] if candidates else (None, None, None)


def _not_importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


def _module_name(path: Path) -> str:
    return f"_flowdeck_flowfile_{abs(hash(str(path)))}"


def _load_module_from_file(path: Path, *, fresh: bool = False) -> ModuleType:
    # One load at a time: a module is in sys.modules before its code has run, and a thread finding it
    # there meanwhile (a threaded worker taking several actions of a flow file at once) saw no flows.
    with _file_lock:
        return _load_module_unlocked(path, fresh=fresh)


def _load_module_unlocked(path: Path, *, fresh: bool) -> ModuleType:
    if not path.exists():
        raise ValidationError(f"flow file {str(path)!r} does not exist")
    if path.is_dir():
        raise ValidationError(f"flow file {str(path)!r} is a directory; give the .py file that defines the flow")
    module_name = _module_name(path)
    if module_name in sys.modules and not fresh:
        return sys.modules[module_name]
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"flow file {str(path)!r} cannot be read: {exc.strerror or exc}") from exc
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValidationError(f"flow file {str(path)!r} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(module_name)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        if previous is not None:
            sys.modules[module_name] = previous  # a broken edit keeps the last version that imported
        else:
            sys.modules.pop(module_name, None)
        raise ValidationError(f"flow file {str(path)!r} failed to import: {type(exc).__name__}: {exc}") from exc
    with _lock:
        _versions[path] = hashlib.sha256(source).hexdigest()[:12]
    return module


def flow_file_version(ref: str | None) -> str | None:
    """A short digest of the source a flow file's loaded code came from (None for modules)."""
    if not ref:
        return None
    target = ref.rpartition(":")[0]
    if not target.endswith(".py"):
        return None
    path = _as_path(target)
    with _lock:
        return _versions.get(path)


@functools.lru_cache(maxsize=256)
def _as_path(target: str) -> Path:
    """``target`` as a Path (asked on every step: building a Path costs more than the lookup)."""
    return Path(target)


def reload_flow_file(path: str | Path) -> list[tuple[Flow, str]]:
    """Run a flow file again after it changed; later loads, new runs and re-runs get the new code.

    Returns the flows now defined there with their references. A file that fails to import raises
    ``ValidationError`` and the version loaded before stays in use.
    """
    resolved = Path(path).expanduser().resolve()
    module = _load_module_from_file(resolved, fresh=True)
    prefix = f"{resolved}:"
    reloaded: list[tuple[Flow, str]] = []
    with _lock:
        stale = {id(flow) for ref, flow in _by_ref.items() if ref.startswith(prefix)}
        for ref in [r for r in _by_ref if r.startswith(prefix)]:
            value = getattr(module, ref[len(prefix) :], None)
            if isinstance(value, Flow):
                _by_ref[ref] = value
                reloaded.append((value, ref))
            else:
                del _by_ref[ref]
        for run_id in [r for r, flow in _by_run.items() if id(flow) in stale]:
            del _by_run[run_id]  # the run loads its flow again, by reference, on its next action
    return reloaded


def _pick_flow(module: ModuleType, attr: str | None, where: str) -> tuple[Flow, str]:
    if attr:
        flow = getattr(module, attr, None)
        if not isinstance(flow, Flow):
            raise ValidationError(f"{where} has no Flow named {attr!r}")
        return flow, attr
    flows = [(a, v) for a, v in vars(module).items() if isinstance(v, Flow) and not a.startswith("_")]
    unique = {id(v): (a, v) for a, v in flows}
    if len(unique) != 1:
        names = sorted(a for a, _ in flows)
        raise ValidationError(f"{where} defines {len(unique)} flows {names}; name one as FILE:ATTRIBUTE")
    attr, flow = next(iter(unique.values()))
    return flow, attr


def load_flow_file(spec: str) -> tuple[Flow, str]:
    """Load ``path/to/file.py[:attr]`` and return the flow with its reference."""
    path_part, _, attr = spec.partition(":") if not spec.endswith(".py") else (spec, "", "")
    if ":" in spec and spec.rsplit(":", 1)[0].endswith(".py"):
        path_part, attr = spec.rsplit(":", 1)
    path = Path(path_part).expanduser().resolve()
    module = _load_module_from_file(path)
    flow, attr = _pick_flow(module, attr or None, str(path))
    ref = f"{path}:{attr}"
    with _lock:
        _by_ref[ref] = flow
    return flow, ref


def load_flow(ref: str) -> Flow:
    """Load the flow a reference names (``module:attr`` or ``/path/file.py:attr``)."""
    with _lock:
        if ref in _by_ref:
            return _by_ref[ref]
    target, _, attr = ref.rpartition(":")
    if target.endswith(".py"):
        flow, _ = load_flow_file(ref)
        return flow
    try:
        module = importlib.import_module(target)
    except Exception as exc:
        raise ValidationError(f"flow module {target!r} failed to import: {type(exc).__name__}: {exc}") from exc
    flow, _ = _pick_flow(module, attr, f"module {target!r}")
    with _lock:
        _by_ref[ref] = flow
    return flow


def remember_flow(run_id: str, flow: Flow) -> None:
    """Keep the flow object of a run started in this process."""
    with _lock:
        _by_run[run_id] = flow


def remembered_flow(run_id: str) -> Flow | None:
    """The flow object of a run started in this process, if any."""
    with _lock:
        return _by_run.get(run_id)
