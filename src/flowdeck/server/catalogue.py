"""The flows a server offers, loaded from files or modules named on the command line or in settings."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowdeck.errors import NotFoundError, ValidationError
from flowdeck.flow.loader import load_flow, load_flow_file, reload_flow_file
from flowdeck.flow.model import Flow

__all__ = ["FlowCatalogue", "RegisteredFlow", "load_spec"]


@dataclass(frozen=True)
class RegisteredFlow:
    """A flow the server offers, with the reference its runs record."""

    flow: Flow
    ref: str

    def to_json(self) -> dict[str, Any]:
        """Name, description and steps, for the catalogue."""
        return {
            "name": self.flow.name,
            "description": self.flow.description,
            "steps": [
                {"name": s.name, "title": s.title, "type": s.type.value, "description": s.description}
                for s in self.flow.steps
            ],
        }


def load_spec(spec: str) -> RegisteredFlow:
    """Load ``path/to/file.py[:attr]`` or ``package.module[:attr]``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValidationError("a flow is named by a file (flows/churn.py[:attr]) or a module (pkg.mod[:attr])")
    spec = spec.strip()
    target = spec.rsplit(":", 1)[0] if ":" in spec else spec
    if target.endswith(".py") or "/" in target:
        flow, ref = load_flow_file(spec)
        return RegisteredFlow(flow, ref)
    if ":" in spec:
        return RegisteredFlow(load_flow(spec), spec)
    try:
        module = importlib.import_module(spec)
    except Exception as exc:
        raise ValidationError(f"flow module {spec!r} failed to import: {type(exc).__name__}: {exc}") from exc
    found = [
        (attr, value) for attr, value in vars(module).items() if isinstance(value, Flow) and not attr.startswith("_")
    ]
    if len({id(v) for _, v in found}) != 1:
        raise ValidationError(
            f"module {spec!r} defines {len(found)} flows {sorted(a for a, _ in found)}; name one as MODULE:ATTRIBUTE"
        )
    attr, flow = found[0]
    ref = f"{spec}:{attr}"
    return RegisteredFlow(load_flow(ref), ref)


class FlowCatalogue:
    """Flows by name, in the order they were given."""

    def __init__(self, specs: list[str]) -> None:
        """Load every flow in ``specs``; two flows with one name are a ``ValidationError``."""
        self._flows: dict[str, RegisteredFlow] = {}
        for spec in specs:
            registered = load_spec(spec)
            name = registered.flow.name
            if name in self._flows and self._flows[name].ref != registered.ref:
                raise ValidationError(
                    f"two flows are named {name!r} ({self._flows[name].ref} and {registered.ref}); "
                    "give each flow a unique name"
                )
            self._flows[name] = registered

    def flow_files(self) -> list[Path]:
        """The files the offered flows are defined in (flows from modules are not watched)."""
        targets = (r.ref.rpartition(":")[0] for r in self._flows.values())
        return sorted({Path(target) for target in targets if target.endswith(".py")})

    def reload_file(self, path: Path) -> list[str]:
        """Load ``path`` again and offer its new flows; returns their names (``ValidationError`` if broken)."""
        names = []
        for flow, ref in reload_flow_file(path):
            for name, registered in list(self._flows.items()):
                if registered.ref == ref:
                    del self._flows[name]
            self._flows[flow.name] = RegisteredFlow(flow, ref)
            names.append(flow.name)
        return names

    def __iter__(self):
        return iter(list(self._flows.values()))

    def __len__(self) -> int:
        return len(self._flows)

    def get(self, name: str) -> RegisteredFlow:
        """The flow called ``name``; ``NotFoundError`` listing the flows otherwise."""
        try:
            return self._flows[name]
        except KeyError:
            raise NotFoundError(f"this server offers no flow {name!r}; it offers {sorted(self._flows)}") from None
