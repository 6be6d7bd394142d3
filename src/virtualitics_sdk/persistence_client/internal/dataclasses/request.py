"""The SDK's ``virtualitics_sdk.persistence_client.internal.dataclasses.request`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import unhosted_class
from virtualitics_sdk.persistence_client.internal.auth.credential_provider import (
    CredentialProvider as CredentialProvider,
)
from virtualitics_sdk.persistence_client.internal.enums.method import Method as Method
from virtualitics_sdk.persistence_client.internal.enums.request_type import RequestType as RequestType
from virtualitics_sdk.persistence_client.internal.enums.request_type import (
    get_route_and_method_info as get_route_and_method_info,
)

PersistenceRequest = unhosted_class("PersistenceRequest", "The Explore persistence client")

__all__ = ["CredentialProvider", "Method", "PersistenceRequest", "RequestType", "get_route_and_method_info"]
