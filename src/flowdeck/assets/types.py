"""The kinds of asset the catalogue keeps."""

from __future__ import annotations

from enum import Enum, StrEnum

from flowdeck.errors import ValidationError

__all__ = ["AssetPersistenceMethod", "AssetType", "DataEncoding"]


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

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

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


class AssetPersistenceMethod(StrEnum):
    """How an asset's object is turned into bytes by ``Asset.to_bytes``."""

    PICKLE = "pickle"
    CSV = "csv"
    EXCEL = "excel"
    JSON = "json"
    BYTES = "bytes"
    PARQUET = "parquet"


class DataEncoding(Enum):
    """How a Dataset's categorical columns are written.

    ORDINAL: integer codes into the categories; ONE_HOT: one indicator column per category;
    VERBOSE: the category values themselves.
    """

    ORDINAL = "ordinal"
    ONE_HOT = "one_hot"
    VERBOSE = "verbose"

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    @classmethod
    def get_valid_enums(cls) -> list[str]:
        """The valid encoding names."""
        return [member.value for member in cls]

    @classmethod
    def check_valid_enum(cls, e: str) -> bool:
        """Whether ``e`` names an encoding."""
        return cls.validate(e) is not None

    @classmethod
    def validate(cls, e: object, return_none: bool = True) -> DataEncoding | None:
        """The encoding ``e`` names (any case), else None (or ValidationError unless ``return_none``)."""
        if isinstance(e, cls):
            return e
        if isinstance(e, str):
            wanted = e.strip().lower().replace("-", "_")
            for member in cls:
                if wanted in (member.value, member.name.lower()):
                    return member
        if return_none:
            return None
        raise ValidationError(f"unknown encoding {e!r}; use one of {', '.join(cls.get_valid_enums())}")
