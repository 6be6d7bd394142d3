"""Pages: sections of cards of elements, and their text rendering."""

from flowdeck.page.comment import Comment
from flowdeck.page.page import (
    PAGE_SCHEMA_VERSION,
    Card,
    CardType,
    Container,
    Page,
    Section,
    Segment,
    default_container_on_close,
    default_container_open,
)
from flowdeck.page.text import describe_element, render_page_text

__all__ = [
    "PAGE_SCHEMA_VERSION",
    "Card",
    "CardType",
    "Comment",
    "Container",
    "Page",
    "Section",
    "Segment",
    "default_container_on_close",
    "default_container_open",
    "describe_element",
    "render_page_text",
]
