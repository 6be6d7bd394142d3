"""The SDK's ``virtualitics_sdk.persistence_client.internal.client_requests`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk.persistence_client.internal.auth.credential_provider import (
    CredentialProvider as CredentialProvider,
)
from virtualitics_sdk.persistence_client.internal.dataclasses.request import PersistenceRequest as PersistenceRequest
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
from virtualitics_sdk.persistence_client.internal.dataclasses.response import CopyAssetResponse as CopyAssetResponse
from virtualitics_sdk.persistence_client.internal.dataclasses.response import DeleteAssetResponse as DeleteAssetResponse
from virtualitics_sdk.persistence_client.internal.dataclasses.response import GetAssetResponse as GetAssetResponse
from virtualitics_sdk.persistence_client.internal.dataclasses.response import GetMetaDataResponse as GetMetaDataResponse
from virtualitics_sdk.persistence_client.internal.dataclasses.response import SaveAssetResponse as SaveAssetResponse
from virtualitics_sdk.persistence_client.internal.dataclasses.response import (
    UpdateMetaDataResponse as UpdateMetaDataResponse,
)
from virtualitics_sdk.persistence_client.internal.enums.request_type import RequestType as RequestType

__all__ = [
    "CopyAssetParameters",
    "CopyAssetResponse",
    "CredentialProvider",
    "DeleteAssetParameters",
    "DeleteAssetResponse",
    "GetAssetParameters",
    "GetAssetResponse",
    "GetMetaDataParameters",
    "GetMetaDataResponse",
    "PersistenceRequest",
    "RequestType",
    "SaveAssetParameters",
    "SaveAssetResponse",
    "UpdateMetaDataParameters",
    "UpdateMetaDataResponse",
]
