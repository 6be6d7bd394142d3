"""Comments people leave on cards and elements (defined with the elements, which carry them too)."""

from flowdeck.elements.comment import Comment, find_comment

__all__ = ["Comment", "find_comment"]
