"""Keys derived from the deployment's secret: Fernet for secrets at rest, HMAC keys for signing."""

from __future__ import annotations

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from flowdeck.config import Settings, secret_keys

__all__ = ["derive_key", "fernet", "signing_keys"]


def derive_key(fernet_key: str, purpose: str) -> bytes:
    """A 32-byte key for one ``purpose``, derived from one Fernet key with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"flowdeck", info=purpose.encode()).derive(
        fernet_key.encode()
    )


def signing_keys(settings: Settings, purpose: str = "pickle-signing") -> list[bytes]:
    """HMAC keys for ``purpose``, newest first: the first signs, every one verifies."""
    return [derive_key(key, purpose) for key in secret_keys(settings)]


def fernet(settings: Settings) -> MultiFernet:
    """A MultiFernet over the deployment's keys: encrypts with the newest, decrypts with any."""
    return MultiFernet([Fernet(key.encode()) for key in secret_keys(settings)])
