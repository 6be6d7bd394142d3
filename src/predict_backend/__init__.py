"""Alias package: ``predict_backend.store.store_interface.StoreInterface`` is flowdeck's StoreInterface."""
