"""The SDK's ``virtualitics_sdk.persistence_client.internal.dataclasses`` package, backed by flowdeck."""
