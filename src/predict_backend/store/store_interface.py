"""Alias module: the reference import path of ``StoreInterface``, served by flowdeck."""

from flowdeck.store.store_interface import StoreInterface

__all__ = ["StoreInterface"]
