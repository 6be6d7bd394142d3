"""Encryption of connection secrets at rest under the deployment's Fernet keys.

The newest key encrypts; every configured key decrypts, so a deployment can add a new key,
re-encrypt every secret with :func:`rotate_secret`, and only then retire the old key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from flowdeck.auth.keys import fernet
from flowdeck.config import Settings
from flowdeck.errors import IntegrityError, ValidationError

__all__ = ["SecretBox", "decrypt_secret", "encrypt_secret", "new_key", "rotate_secret"]


def new_key() -> str:
    """A new random Fernet key, suitable for ``FLOWDECK_SECRET_KEY``."""
    return Fernet.generate_key().decode()


def _undecryptable(connection: str | None) -> IntegrityError:
    what = f"connection {connection!r}" if connection else "a connection"
    return IntegrityError(
        f"cannot decrypt the secret of {what}: the deployment key changed? "
        "Configure the key it was stored under in FLOWDECK_SECRET_KEY (several keys may be given, "
        "comma-separated, newest first), or store the secret again"
    )


class SecretBox:
    """Encrypts and decrypts secrets with the keys of one deployment's settings."""

    def __init__(self, settings: Settings) -> None:
        self._fernet = fernet(settings)

    def encrypt(self, plaintext: str) -> str:
        """The encrypted token (url-safe text) of ``plaintext``, under the newest key."""
        if not isinstance(plaintext, str):
            raise ValidationError(f"a secret must be a str, got {type(plaintext).__name__}")
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, connection: str | None = None) -> str:
        """The plaintext of ``token``; ``connection`` is named in error messages."""
        try:
            return self._fernet.decrypt(_token_bytes(token)).decode("utf-8")
        except (InvalidToken, UnicodeDecodeError):
            raise _undecryptable(connection) from None

    def rotate(self, token: str, connection: str | None = None) -> str:
        """``token`` re-encrypted under the newest key (it must decrypt under one of the keys)."""
        try:
            return self._fernet.rotate(_token_bytes(token)).decode("ascii")
        except InvalidToken:
            raise _undecryptable(connection) from None


def _token_bytes(token: str | bytes) -> bytes:
    if isinstance(token, bytes):
        return token
    try:
        return token.encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        # A token is always ASCII; anything else is not a token, and the value is not echoed.
        return b"\x00"


def encrypt_secret(settings: Settings, plaintext: str) -> str:
    """Encrypt ``plaintext`` under the newest key of ``settings``."""
    return SecretBox(settings).encrypt(plaintext)


def decrypt_secret(settings: Settings, token: str, connection: str | None = None) -> str:
    """Decrypt ``token`` with any key of ``settings``; :class:`IntegrityError` when none does."""
    return SecretBox(settings).decrypt(token, connection)


def rotate_secret(settings: Settings, token: str, connection: str | None = None) -> str:
    """Re-encrypt ``token`` under the newest key of ``settings``."""
    return SecretBox(settings).rotate(token, connection)
