"""The SDK's ``virtualitics_sdk.persistence_client.internal.auth.virtualitics_jwt`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import unhosted_function

parse_jwt = unhosted_function("parse_jwt", "The Explore persistence client")
get_auth_headers_from_jwt = unhosted_function("get_auth_headers_from_jwt", "The Explore persistence client")
is_jwt_expired = unhosted_function("is_jwt_expired", "The Explore persistence client")

__all__ = ["get_auth_headers_from_jwt", "is_jwt_expired", "parse_jwt"]
