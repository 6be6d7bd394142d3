"""Assets: reusable datasets, models, explainers and schemas, kept in a versioned catalogue."""

from flowdeck.assets.asset import Asset, Dataset, Explainer, Model, Schema, SchemaMismatch
from flowdeck.assets.types import AssetPersistenceMethod, AssetType, DataEncoding

__all__ = [
    "Asset",
    "AssetPersistenceMethod",
    "AssetType",
    "DataEncoding",
    "Dataset",
    "Explainer",
    "Model",
    "Schema",
    "SchemaMismatch",
]
