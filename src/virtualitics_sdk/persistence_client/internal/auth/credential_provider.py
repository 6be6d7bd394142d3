"""The SDK's ``virtualitics_sdk.persistence_client.internal.auth.credential_provider`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import unhosted_class
from virtualitics_sdk.persistence_client.internal.auth.virtualitics_jwt import (
    get_auth_headers_from_jwt as get_auth_headers_from_jwt,
)
from virtualitics_sdk.persistence_client.internal.auth.virtualitics_jwt import is_jwt_expired as is_jwt_expired
from virtualitics_sdk.persistence_client.internal.enums.authentication_mode import (
    AuthenticationMode as AuthenticationMode,
)

CredentialProvider = unhosted_class("CredentialProvider", "The Explore persistence client")

__all__ = ["AuthenticationMode", "CredentialProvider", "get_auth_headers_from_jwt", "is_jwt_expired"]
