"""A Table's data-grid options (``Table(data_grid_features=...)``): pydantic models, as in the SDK.

``DataGridFeatures`` and its parts (``GridColumn``, ``ColumnGroup``, ``ColumnField``) are pydantic
v2 models with the SDK's field names, types and defaults: a wrong value (an ``aggregation`` of
``'median'``, a ``pinned`` of ``'center'``) is a :class:`pydantic.ValidationError` (a ``ValueError``)
naming the field, and the pydantic API (``model_dump()``, ``model_validate()``,
``model_dump_json()``, ...) works on them.

This module is imported on first use (``flowdeck.elements`` and ``flowdeck.elements.outputs`` hand
its names out lazily), so a step that shows no data grid does not import pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from flowdeck.elements.base import loading_saved, to_jsonable

__all__ = ["ColumnField", "ColumnGroup", "ColumnGroupingModel", "DataGridFeatures", "GridColumn"]

#: The configuration of the models whose stub declares a ``model_config``: unknown fields are refused
#: (as flowdeck's constructors refuse unknown keywords), and assigning a field checks the value too.
_STRICT = ConfigDict(extra="forbid", validate_assignment=True)


class ColumnField(BaseModel):
    """A column in a column group (``DataGridFeatures.column_grouping_model``), by its field name.

    The SDK's stub declares no ``model_config`` for this model, so it keeps pydantic's default, as
    in the SDK: an unknown keyword is ignored.
    """

    field: str


class ColumnGroup(BaseModel):
    """A named group of columns and groups, shown as a shared header above them.

    ``children`` holds :class:`ColumnField` and nested ``ColumnGroup`` models; in a dict given to
    ``model_validate``, an item with a ``group_id`` is a group and one with only a ``field`` a column.
    Unknown fields are refused and assignments are checked (``model_config``).

    .. code-block:: python

        column_grouping = [
            ColumnGroup(group_id="internal data", children=[ColumnField(field="id")]),
            ColumnGroup(
                group_id="character",
                children=[
                    ColumnGroup(
                        group_id="naming",
                        children=[ColumnField(field="lastName"), ColumnField(field="firstName")],
                    ),
                    ColumnField(field="age"),
                ],
            ),
        ]
    """

    model_config = _STRICT

    group_id: str
    children: list[ColumnGroup | ColumnField]


class GridColumn(BaseModel):
    """How the data grid shows one column; the equivalent of a MUI ``GridColDef``.

    https://mui.com/x/react-data-grid/column-definition/

    Only ``field`` is required: ``header_name`` and ``dtype`` default to ``""`` (the grid then shows
    the field name and infers the type), ``col_spanning`` and ``editable`` to False, ``pinned``
    (``'left'`` or ``'right'``), ``validation_rule`` and ``value_options`` to None. Unknown fields are
    refused and assignments are checked (``model_config``).
    """

    model_config = _STRICT

    field: str
    header_name: str = ""
    dtype: str = ""
    col_spanning: bool = False
    editable: bool = False
    pinned: Literal["left", "right"] | None = None
    validation_rule: str | None = None
    value_options: list[str] | None = None


#: Column groups, outermost first.
ColumnGroupingModel = list[ColumnGroup | ColumnField]


class DataGridFeatures(BaseModel):
    """Top-level container for MUI DataGrid feature configurations.

    Every field is optional (default None): ``column_definitions`` (:class:`GridColumn` models),
    ``column_grouping_model`` (:data:`ColumnGroupingModel`), ``col_spanning``, ``aggregation``
    (column name -> ``'sum'``, ``'avg'``, ``'min'``, ``'max'`` or ``'size'``), ``column_formatters``,
    ``conditional_formatting_rules``, ``cell_editable``, ``table_editable`` and
    ``default_page_size``. ``columns=`` (the keyword the SDK's Table example passes) is taken as
    ``column_definitions``; the field, and its name in ``model_dump()`` and the page JSON, is
    ``column_definitions``. Unknown fields are refused and assignments are checked
    (``model_config``).

    In the page JSON a Table keeps these options as :meth:`to_json` gives them (``model_dump()``'s
    form); a page read back from the store rebuilds them with :meth:`from_json`.
    """

    model_config = _STRICT

    column_definitions: list[GridColumn] | None = Field(
        default=None, validation_alias=AliasChoices("column_definitions", "columns")
    )
    column_grouping_model: ColumnGroupingModel | None = None
    col_spanning: bool | None = None
    aggregation: dict[str, Literal["sum", "avg", "min", "max", "size"]] | None = None
    column_formatters: dict[str, str] | None = None
    conditional_formatting_rules: dict[str, str] | None = None
    cell_editable: bool | None = None
    table_editable: bool | None = None
    default_page_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form: ``model_dump()``, every field by its name (nested models as dicts)."""
        # Options loaded as saved (see from_json) may not fit their types; they are written back as
        # they were read, so the serializer's warnings about them are not wanted.
        return to_jsonable(self.model_dump(warnings=False))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DataGridFeatures:
        """Rebuild from :meth:`to_json` output (``model_validate``).

        A page saved before these options were checked may hold values that no longer pass (a
        column's ``field`` given as a number, an aggregation the grid does not know); while such a
        page is read back (``Element.from_json``), its options load as they were saved, unchecked,
        so the page still opens. Elsewhere a wrong value is a :class:`pydantic.ValidationError`.
        """
        try:
            return cls.model_validate(data)
        except PydanticValidationError:
            if not loading_saved() or not isinstance(data, Mapping):
                raise
        return _features_as_saved(data)


def _saved_fields(model: type[BaseModel], item: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``item`` that are fields of ``model``."""
    return {name: item[name] for name in model.model_fields if name in item}


def _group_as_saved(item: Any) -> Any:
    """A column-grouping item of a saved page as a model, its values unchecked."""
    if not isinstance(item, Mapping):
        return item
    if "group_id" not in item:
        return ColumnField.model_construct(**_saved_fields(ColumnField, item))
    values = _saved_fields(ColumnGroup, item)
    if isinstance(values.get("children"), list):
        values["children"] = [_group_as_saved(child) for child in values["children"]]
    return ColumnGroup.model_construct(**values)


def _features_as_saved(data: Mapping[str, Any]) -> DataGridFeatures:
    """The options of a saved page as models, their values unchecked (see ``DataGridFeatures.from_json``)."""
    values = _saved_fields(DataGridFeatures, data)
    if isinstance(values.get("column_definitions"), list):
        values["column_definitions"] = [
            GridColumn.model_construct(**_saved_fields(GridColumn, column)) if isinstance(column, Mapping) else column
            for column in values["column_definitions"]
        ]
    if isinstance(values.get("column_grouping_model"), list):
        values["column_grouping_model"] = [_group_as_saved(item) for item in values["column_grouping_model"]]
    return DataGridFeatures.model_construct(**values)
