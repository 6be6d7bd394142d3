"""The SDK's ``virtualitics_sdk.persistence_client.internal.enums`` package, backed by flowdeck."""
