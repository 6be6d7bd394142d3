"""The SDK's ``virtualitics_sdk.persistence_client.internal`` package, backed by flowdeck."""
