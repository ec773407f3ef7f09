"""Request logs (one JSON line each, never the token) and Prometheus metrics with bounded labels."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from taskql.http.observability import MAX_OPERATION_LABELS
from taskql.logs import JsonFormatter
from tests.support.apps import ClientFactory
from tests.support.graphql import gql
from tests.support.jwks import JwksServer
from tests.support.network import free_port
from tests.support.tokens import TEST_SECRET, hs256_token

LIST = 'query ListTasks { tasks(userId: "u") { total } }'


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "taskql.access"
    ]


async def samples(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics, keyed by name and labels."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


async def test_each_request_logs_one_json_line_with_its_facts_and_never_the_token(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client()
    token = hs256_token("user-7")
    with caplog.at_level(logging.INFO, logger="taskql.access"):
        response = await gql(client, LIST.replace('"u"', '"user-7"'), token=token,
                             headers={"x-request-id": "req-abc"})  # fmt: skip
    assert response.status_code == 200
    [line] = access_lines(caplog)
    assert line["request_id"] == "req-abc"
    assert line["operation"] == "ListTasks"
    assert line["user_id"] == "user-7"
    assert line["status"] == 200
    assert line["method"] == "POST"
    assert line["path"] == "/graphql"
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "info"
    assert token not in caplog.text
    assert token.split(".")[2] not in json.dumps(line)


async def test_a_refused_token_is_logged_without_user_or_token(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client()
    forged = hs256_token("user-7")[:-4] + "AAAA"
    with caplog.at_level(logging.INFO, logger="taskql.access"):
        response = await gql(client, LIST, token=forged)
    assert response.status_code == 401
    [line] = access_lines(caplog)
    assert line["status"] == 401
    assert line["user_id"] is None
    assert line["operation"] is None
    assert forged not in caplog.text


async def test_metrics_count_requests_and_latency_by_operation_and_status(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    for _ in range(3):
        await gql(client, LIST, token=hs256_token("u"))
    await gql(client, "{ __typename }")
    await gql(client, 'query Forbidden { tasks(userId: "v") { total } }', token=hs256_token("u"))
    found = await samples(client)
    ok = labels(path="/graphql", operation="ListTasks", status="200")
    assert found[("taskql_http_requests_total", ok)] == 3
    assert found[("taskql_http_request_duration_seconds_count", ok)] == 3
    anonymous = labels(path="/graphql", operation="anonymous", status="200")
    assert found[("taskql_http_requests_total", anonymous)] == 1
    forbidden = labels(path="/graphql", operation="Forbidden", status="403")
    assert found[("taskql_http_requests_total", forbidden)] == 1


async def test_jwt_failures_are_counted_by_reason(make_client: ClientFactory) -> None:
    client = await make_client()
    await gql(client, LIST, token=hs256_token("u", ttl=-3600))
    await gql(client, LIST, token=hs256_token("u")[:-4] + "AAAA")
    await gql(client, LIST, token="not-a-jwt")
    await gql(client, LIST)  # no header at all, on a field that needs a user
    found = await samples(client)
    for reason in ("expired", "bad_signature", "malformed", "missing_header"):
        assert found[("taskql_jwt_failures_total", labels(reason=reason))] == 1, reason
    assert found[("taskql_jwt_failures_total", labels(reason="unknown_key"))] == 0


async def test_operation_labels_are_bounded(make_client: ClientFactory) -> None:
    client = await make_client()
    for index in range(MAX_OPERATION_LABELS + 10):
        await gql(client, f"query Op{index} {{ __typename }}")
    await gql(client, "query " + "L" * 65 + " { __typename }")
    await gql(client, "query Broken { nope }")
    found = await samples(client)
    operations = {
        dict(label_set)["operation"]
        for name, label_set in found
        if name == "taskql_http_requests_total"
    }
    assert len(operations) <= MAX_OPERATION_LABELS + 2  # plus "other" and the /metrics "none"
    assert "other" in operations
    assert "Broken" not in operations  # names count only once the operation was valid


async def test_metrics_can_be_turned_off(make_client: ClientFactory) -> None:
    client = await make_client(metrics_enabled=False)
    assert (await client.get("/metrics")).status_code == 404


async def test_jwks_refreshes_are_counted_by_result(
    make_client: ClientFactory, jwks_server: JwksServer
) -> None:
    up = await make_client(better_auth_url=jwks_server.base_url, better_auth_secret=TEST_SECRET)
    down = await make_client(
        better_auth_url=f"http://127.0.0.1:{free_port()}", better_auth_secret=TEST_SECRET
    )
    assert (await up.get("/readyz")).status_code in (200, 503)
    assert (await down.get("/readyz")).status_code == 503
    assert (await samples(up))[("taskql_jwks_refreshes_total", labels(result="ok"))] == 1
    assert (await samples(down))[("taskql_jwks_refreshes_total", labels(result="error"))] == 1


async def test_probes_and_scrapes_log_at_debug_only(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client()
    with caplog.at_level(logging.INFO, logger="taskql.access"):
        await client.get("/healthz")
        await client.get("/metrics")
    assert access_lines(caplog) == []
