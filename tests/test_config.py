"""Settings: precedence, the generated key file, and clear errors."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.fernet import Fernet

from flowdeck.config import configure, get_settings
from flowdeck.errors import ConfigurationError


def test_defaults_on_a_fresh_home(home, monkeypatch):
    for name in list(os.environ):
        if name.startswith("FLOWDECK_") and not name.startswith("FLOWDECK_TEST_"):
            monkeypatch.delenv(name)
    settings = configure(home=str(home))
    assert settings.database_url == f"sqlite:///{home / 'flowdeck.db'}"
    assert settings.blob_url == f"file://{home / 'blobs'}"
    assert settings.executor == "inline"
    key_file = home / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert settings.secret_key == key_file.read_text().strip()
    Fernet(settings.secret_key.encode())
    assert configure(home=str(home)).secret_key == settings.secret_key  # made once, then reused
    assert get_settings() is not None


def test_precedence_arguments_env_toml(home, monkeypatch):
    (home / "flowdeck.toml").write_text('executor = "celery"\nmax_upload_bytes = 1000\ninline_threshold = 10\n')
    monkeypatch.setenv("FLOWDECK_MAX_UPLOAD_BYTES", "2000")
    settings = configure(home=str(home), inline_threshold=5)
    assert settings.executor == "celery"  # toml
    assert settings.max_upload_bytes == 2000  # env beats toml
    assert settings.inline_threshold == 5  # argument beats both


def test_bad_settings_are_clear_errors(home, monkeypatch):
    with pytest.raises(ConfigurationError, match="unknown settings"):
        configure(home=str(home), databse_url="x")
    with pytest.raises(ConfigurationError, match="flowdeck keys new"):
        configure(home=str(home), secret_key="not-a-key")
    with pytest.raises(ConfigurationError, match="unknown executor"):
        configure(home=str(home), executor="threads")
    (home / "flowdeck.toml").write_text("nonsense = 1\n")
    with pytest.raises(ConfigurationError, match="unknown settings"):
        configure(home=str(home))
    (home / "flowdeck.toml").write_text("= broken")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        configure(home=str(home))
