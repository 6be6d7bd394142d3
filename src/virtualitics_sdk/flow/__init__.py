"""The SDK's older ``virtualitics_sdk.flow`` layout (before ``virtualitics_sdk.app``), backed by flowdeck."""
