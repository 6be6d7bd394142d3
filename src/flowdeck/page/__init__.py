"""Pages: sections of cards of elements, and their text rendering."""

from flowdeck.page.page import PAGE_SCHEMA_VERSION, Card, Page, Section
from flowdeck.page.text import describe_element, render_page_text

__all__ = ["PAGE_SCHEMA_VERSION", "Card", "Page", "Section", "describe_element", "render_page_text"]
