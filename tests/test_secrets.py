"""Encryption of connection secrets under the deployment's keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdeck.auth.secrets import SecretBox, decrypt_secret, encrypt_secret, new_key, rotate_secret
from flowdeck.config import Settings
from flowdeck.errors import IntegrityError

SECRET = "correct horse battery staple"


def make_settings(tmp_path: Path, *keys: str) -> Settings:
    return Settings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'flowdeck.db'}",
        blob_url=f"file://{tmp_path / 'blobs'}",
        secret_key=",".join(keys),
    )


@settings(max_examples=30, deadline=None)
@given(st.text())
def test_encrypt_then_decrypt_returns_the_secret(tmp_path_factory: pytest.TempPathFactory, plaintext: str) -> None:
    conf = make_settings(tmp_path_factory.mktemp("k"), new_key())
    token = encrypt_secret(conf, plaintext)
    assert decrypt_secret(conf, token) == plaintext


def test_tokens_hide_the_secret_and_differ_each_time(tmp_path: Path) -> None:
    conf = make_settings(tmp_path, new_key())
    token = encrypt_secret(conf, SECRET)
    assert SECRET not in token and "horse" not in token
    assert encrypt_secret(conf, SECRET) != token


def test_rotation_with_two_keys(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    before = make_settings(tmp_path, old)
    token = encrypt_secret(before, SECRET)

    during = make_settings(tmp_path, new, old)  # newest first
    assert decrypt_secret(during, token) == SECRET
    rotated = rotate_secret(during, token)
    assert rotated != token

    after = make_settings(tmp_path, new)  # old key retired
    assert decrypt_secret(after, rotated) == SECRET
    with pytest.raises(IntegrityError, match="cannot decrypt"):
        decrypt_secret(after, token)
    # The old key alone cannot read what was re-encrypted.
    with pytest.raises(IntegrityError, match="cannot decrypt"):
        decrypt_secret(before, rotated)


def test_wrong_key_is_an_integrity_error_without_the_secret(tmp_path: Path) -> None:
    token = encrypt_secret(make_settings(tmp_path, new_key()), SECRET)
    other = make_settings(tmp_path, new_key())
    with pytest.raises(IntegrityError) as info:
        decrypt_secret(other, token, connection="warehouse")
    message = str(info.value)
    assert message.startswith("cannot decrypt the secret of connection 'warehouse': the deployment key changed?")
    assert SECRET not in message and token not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_rotate_with_wrong_key_is_an_integrity_error(tmp_path: Path) -> None:
    token = encrypt_secret(make_settings(tmp_path, new_key()), SECRET)
    with pytest.raises(IntegrityError, match="connection 'warehouse'"):
        rotate_secret(make_settings(tmp_path, new_key()), token, connection="warehouse")


def test_garbage_token_is_an_integrity_error(tmp_path: Path) -> None:
    box = SecretBox(make_settings(tmp_path, new_key()))
    for token in ("", "not-a-token", "ünïcode"):
        with pytest.raises(IntegrityError, match="cannot decrypt the secret of a connection"):
            box.decrypt(token)


def test_new_key_is_a_usable_fernet_key(tmp_path: Path) -> None:
    key = new_key()
    assert isinstance(key, str) and len(key) == 44
    box = SecretBox(make_settings(tmp_path, key))
    assert box.decrypt(box.encrypt(SECRET)) == SECRET
