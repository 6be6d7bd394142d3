"""The SDK's ``virtualitics_sdk.persistence_client.internal.enums.asset_type`` module, backed by flowdeck."""

from __future__ import annotations

import enum


class PersistenceAssetType(enum.Enum):
    """PersistenceAssetType (the SDK's enum; values are the member names in lower case)."""

    INVALID = "invalid"
    PROJECT = "project"
    DATASET = "dataset"
    OBJECT = "object"
    SETTINGS = "settings"
    WORKFLOW = "workflow"


__all__ = ["PersistenceAssetType"]
