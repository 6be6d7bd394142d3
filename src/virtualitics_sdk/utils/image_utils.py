"""The SDK's ``virtualitics_sdk.utils.image_utils`` module, backed by flowdeck."""

from __future__ import annotations

from virtualitics_sdk._compat import get_img_base64 as get_img_base64
from virtualitics_sdk._compat import unhosted_function

generete_self_hosted_image_url = unhosted_function(
    "generete_self_hosted_image_url", "Self-hosted images of the platform"
)

__all__ = ["generete_self_hosted_image_url", "get_img_base64"]
