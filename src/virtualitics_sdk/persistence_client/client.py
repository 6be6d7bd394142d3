"""The SDK's ``virtualitics_sdk.persistence_client.client`` module, backed by flowdeck."""

from __future__ import annotations

from typing import Any

from virtualitics_sdk._compat import PredictException as PredictException
from virtualitics_sdk._compat import unhosted_class, unhosted_function
from virtualitics_sdk.persistence_client.internal.auth.credential_provider import (
    CredentialProvider as CredentialProvider,
)
from virtualitics_sdk.persistence_client.internal.dataclasses.metadata import PersistenceMetadata as PersistenceMetadata
from virtualitics_sdk.persistence_client.internal.dataclasses.request_parameters import (
    CopyAssetParameters as CopyAssetParameters,
)
from virtualitics_sdk.persistence_client.internal.dataclasses.request_parameters import (
    DeleteAssetParameters as DeleteAssetParameters,
)
from virtualitics_sdk.persistence_client.internal.dataclasses.request_parameters import (
    GetAssetParameters as GetAssetParameters,
)
from virtualitics_sdk.persistence_client.internal.dataclasses.request_parameters import (
    GetMetaDataParameters as GetMetaDataParameters,
)
from virtualitics_sdk.persistence_client.internal.dataclasses.request_parameters import (
    SaveAssetParameters as SaveAssetParameters,
)
from virtualitics_sdk.persistence_client.internal.dataclasses.request_parameters import (
    UpdateMetaDataParameters as UpdateMetaDataParameters,
)
from virtualitics_sdk.persistence_client.internal.enums.asset_type import PersistenceAssetType as PersistenceAssetType

jwt: Any = Any
PersistenceClient = unhosted_class("PersistenceClient", "The Explore persistence client")
ensure_metadata = unhosted_function("ensure_metadata", "The Explore persistence client")
convert_to_bytesio = unhosted_function("convert_to_bytesio", "The Explore persistence client")

__all__ = [
    "CopyAssetParameters",
    "CredentialProvider",
    "DeleteAssetParameters",
    "GetAssetParameters",
    "GetMetaDataParameters",
    "PersistenceAssetType",
    "PersistenceClient",
    "PersistenceMetadata",
    "PredictException",
    "SaveAssetParameters",
    "UpdateMetaDataParameters",
    "convert_to_bytesio",
    "ensure_metadata",
    "jwt",
]
