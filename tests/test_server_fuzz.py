"""Fuzzing the REST API from its OpenAPI schema: no generated request may cause a server error.

Requests carry an API token, so they reach the endpoints' own checks rather than stopping at 401.
The event stream is left out (it streams until the client goes away); its bad inputs are covered
by the API tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

import flowdeck
from fixtures.server_support import add_people, make_app
from flowdeck.config import configure
from flowdeck.server import auth


@pytest.fixture(scope="module")
def fuzz_deployment(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One embedded deployment for the whole module, with users and a run to aim at."""
    home: Path = tmp_path_factory.mktemp("fuzz-home")
    configure(home=str(home), database_url=None, blob_url=None)
    add_people()
    app = make_app()
    token = auth.create_token(flowdeck.auth.users.resolve_principal("alice"), "fuzz")[1]
    yield app, token
    from flowdeck.storage.deployment import reset_storage

    reset_storage()


@pytest.fixture(scope="module")
def api_schema(fuzz_deployment: Any) -> Any:
    """The app's OpenAPI schema, without the streaming endpoint and logging out everywhere.

    Logging out everywhere revokes the fuzzing token, which would leave every later request at 401.
    """
    app, _ = fuzz_deployment
    return schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=r"/events$|/logout-everywhere$")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_causes_a_server_error(case: Any, fuzz_deployment: Any) -> None:
    _, token = fuzz_deployment
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"
    )
