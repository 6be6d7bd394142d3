"""Assets: reusable datasets, models, explainers and schemas, kept in a versioned catalogue."""

from flowdeck.assets.asset import Asset, Dataset, Explainer, Model, Schema, SchemaMismatch
from flowdeck.assets.types import AssetType

__all__ = ["Asset", "AssetType", "Dataset", "Explainer", "Model", "Schema", "SchemaMismatch"]
