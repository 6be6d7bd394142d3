"""The reference import path ``predict_backend.page``: pages, sections and cards."""

from flowdeck.page import Card, Page, Section

__all__ = ["Card", "Page", "Section"]
