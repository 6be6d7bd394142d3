"""The data-grid models as names of other modules, imported on first use (their module imports pydantic)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["DATA_GRID_NAMES", "data_grid_name", "with_data_grid_names"]

#: The names :mod:`flowdeck.elements.data_grid` defines.
DATA_GRID_NAMES = frozenset({"ColumnField", "ColumnGroup", "ColumnGroupingModel", "DataGridFeatures", "GridColumn"})


def data_grid_name(module: str, name: str) -> Any:
    """The data-grid model ``name`` for a module's ``__getattr__``; ``AttributeError`` of ``module`` otherwise."""
    if name in DATA_GRID_NAMES:
        from flowdeck.elements import data_grid

        return getattr(data_grid, name)
    raise AttributeError(f"module {module!r} has no attribute {name!r}")


def with_data_grid_names(names: Iterable[str]) -> list[str]:
    """``names`` and the data-grid models' names, sorted: a module's ``__dir__``."""
    return sorted(set(names) | DATA_GRID_NAMES)
