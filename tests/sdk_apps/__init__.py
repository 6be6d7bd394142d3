"""Apps written for the SDK, used unchanged by tests/test_sdk.py."""
