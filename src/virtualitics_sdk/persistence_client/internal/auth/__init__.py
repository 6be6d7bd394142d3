"""The SDK's ``virtualitics_sdk.persistence_client.internal.auth`` package, backed by flowdeck."""
