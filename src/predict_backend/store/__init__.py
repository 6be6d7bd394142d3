"""Alias of ``flowdeck.store``."""
