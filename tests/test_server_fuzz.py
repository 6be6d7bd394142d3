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
from hypothesis import HealthCheck, given, settings

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


def test_no_request_causes_a_server_error(api_schema: Any, fuzz_deployment: Any) -> None:
    """Every operation, with cases drawn from its schema (schemathesis's strategies driven by Hypothesis
    directly: its pytest plugin does not load under this pytest)."""
    _, token = fuzz_deployment
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20, [op.label for op in operations]
    failures: list[str] = []
    for operation in operations:

        @settings(
            max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}")

        check()
    assert not failures, "\n".join(failures)
