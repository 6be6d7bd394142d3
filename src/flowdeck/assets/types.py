"""The kinds of asset the catalogue keeps."""

from __future__ import annotations

from enum import StrEnum

from flowdeck.errors import ValidationError

__all__ = ["AssetType"]


class AssetType(StrEnum):
    """What an asset is: a model, a dataset, an explainer, a schema, ...

    A ``str`` Enum whose values are the lower-case names (``AssetType.MODEL == "model"``).
    Wherever an API takes a type, a member or its name in any case is accepted
    (``AssetType("Model")``, ``AssetType.parse("dataset")``).
    """

    MODEL = "model"
    DATASET = "dataset"
    EXPLAINER = "explainer"
    SCHEMA = "schema"
    NLPROCESSOR = "nlprocessor"
    KNOWLEDGE_GRAPH = "knowledge_graph"
    DATASTORE = "datastore"
    OTHER = "other"

    @classmethod
    def _missing_(cls, value: object) -> AssetType | None:
        if isinstance(value, str):
            wanted = value.strip().lower().replace("-", "_").replace(" ", "_")
            for member in cls:
                if member.value == wanted or member.value.replace("_", "") == wanted.replace("_", ""):
                    return member
        return None

    @classmethod
    def parse(cls, value: AssetType | str) -> AssetType:
        """The member ``value`` names (any case); ``ValidationError`` listing the valid types otherwise."""
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(m.name for m in cls)
            raise ValidationError(f"unknown asset type {value!r}; use one of {valid}") from None
