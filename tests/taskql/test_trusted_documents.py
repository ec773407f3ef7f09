"""Trusted documents (SPEC §9): the manifest, requests by documentId and by Apollo's APQ hash,
and TRUSTED_DOCUMENTS_ONLY, over HTTP (POST and GET) and WebSocket."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from click.testing import CliRunner

from taskql.cli import main
from taskql.documents import build_manifest, document_id, read_manifest
from tests.support.apps import AppFactory, make_settings
from tests.support.graphql import INTROSPECTION, codes
from tests.support.live import Start
from tests.support.operations import MANIFEST, trusted_ids
from tests.support.paths import OPERATIONS
from tests.support.tokens import hs256_token
from tests.support.websocket import ws_client

STRICT = "application/graphql-response+json"
ID = trusted_ids()


@pytest.fixture
def user() -> str:
    return f"trusted-{uuid.uuid4().hex[:8]}"


async def post(
    client: httpx.AsyncClient, user: str | None, body: object, **headers: str
) -> httpx.Response:
    sent = {"content-type": "application/json", "accept": STRICT, **headers}
    if user is not None:
        sent["authorization"] = f"Bearer {hs256_token(user)}"
    return await client.post("/graphql", content=orjson.dumps(body), headers=sent)


def by_id(name: str, user: str, **variables: Any) -> dict[str, Any]:
    return {"documentId": ID[name], "variables": {"userId": user, **variables}}


def apq(digest: str, query: str | None = None, **variables: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "variables": variables,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
    }
    if query is not None:
        body["query"] = query
    return body


def refused(response: httpx.Response, code: str) -> str:
    assert response.status_code == 400, response.text
    assert "data" not in response.json()
    assert codes(response) == [code]
    message: str = response.json()["errors"][0]["message"]
    return message


@pytest.fixture
async def only(build_app: AppFactory) -> httpx.AsyncClient:
    """An app that runs the manifest's documents and nothing else (GraphiQL off)."""
    app = await build_app(
        trusted_documents=str(MANIFEST), trusted_documents_only=True, graphiql=False
    )
    return app.client


def test_the_manifest_is_built_from_the_contract_operations_and_is_current() -> None:
    assert read_manifest(MANIFEST) == build_manifest(OPERATIONS)
    assert sorted(ID) == sorted(
        path.stem for path in OPERATIONS.glob("*.graphql") if path.stem != "TaskFields"
    )
    result = CliRunner().invoke(main, ["export-documents", "--check", "--path", str(MANIFEST)])
    assert result.exit_code == 0, result.output


def test_export_documents_writes_the_manifest_and_check_fails_when_it_is_stale(
    tmp_path: Path,
) -> None:
    out = tmp_path / "documents.json"
    runner = CliRunner()
    assert runner.invoke(main, ["export-documents", "--path", str(out)]).exit_code == 0
    assert out.read_text() == MANIFEST.read_text()
    stale = json.loads(out.read_text())
    stale.popitem()
    out.write_text(json.dumps(stale))
    result = runner.invoke(main, ["export-documents", "--check", "--path", str(out)])
    assert result.exit_code == 1
    assert "out of date: run `taskql export-documents`" in result.output


def test_a_document_is_its_operation_then_the_fragments_it_uses() -> None:
    documents = read_manifest(MANIFEST)
    text = documents[ID["GetTask"]]
    assert text.startswith("query GetTask(")
    assert text.count("fragment TaskFields on Task") == 1
    assert "fragment" not in documents[ID["Me"]]
    assert ID["GetTask"] == "sha256:" + hashlib.sha256(text.encode()).hexdigest()


async def test_every_contract_operation_runs_by_id_alone(
    only: httpx.AsyncClient, user: str
) -> None:
    created = await post(only, user, by_id("CreateTask", user, input={"title": "By id"}))
    assert created.status_code == 200, created.text
    task = created.json()["data"]["createTask"]
    assert task["title"] == "By id"
    listed = await post(only, user, by_id("ListTasks", user))
    assert [item["id"] for item in listed.json()["data"]["tasks"]["items"]] == [task["id"]]
    got = await post(only, user, by_id("GetTask", user, id=task["id"]))
    assert got.json()["data"]["task"] == task
    edited = await post(
        only, user, by_id("UpdateTask", user, id=task["id"], input={"title": "Renamed"})
    )
    assert edited.json()["data"]["updateTask"]["title"] == "Renamed"
    toggled = await post(only, user, by_id("ToggleTaskComplete", user, id=task["id"]))
    assert toggled.json()["data"]["toggleTaskComplete"]["completed"] is True
    me = await post(only, user, {"documentId": ID["Me"]})
    assert me.json()["data"]["me"]["id"] == user
    deleted = await post(only, user, by_id("DeleteTask", user, id=task["id"]))
    assert deleted.json()["data"] == {"deleteTask": task["id"]}


async def test_a_trusted_document_keeps_the_contract_statuses(
    only: httpx.AsyncClient, user: str
) -> None:
    denied = await post(only, user, by_id("ListTasks", "someone-else"))
    assert denied.status_code == 403
    assert codes(denied) == ["FORBIDDEN"]
    anonymous = await post(only, None, by_id("ListTasks", user))
    assert anonymous.status_code == 401
    absent = await post(only, user, by_id("GetTask", user, id="987654321"))
    assert absent.status_code == 200
    assert codes(absent) == ["NOT_FOUND"]


async def test_get_names_a_document_by_id_and_still_refuses_mutations(
    only: httpx.AsyncClient, user: str
) -> None:
    headers = {"authorization": f"Bearer {hs256_token(user)}", "accept": STRICT}
    params = {"documentId": ID["ListTasks"], "variables": json.dumps({"userId": user})}
    listed = await only.get("/graphql", params=params, headers=headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"]["tasks"]["total"] == 0
    # A browser's Accept (text/html, */*) with an id is an operation, not GraphiQL's page.
    html = await only.get("/graphql", params=params, headers={**headers, "accept": "text/html,*/*"})
    assert html.status_code == 200
    assert html.json()["data"]["tasks"]["total"] == 0
    params = {"documentId": ID["CreateTask"], "variables": json.dumps({"userId": user})}
    mutation = await only.get("/graphql", params=params, headers=headers)
    assert mutation.status_code == 405
    assert mutation.headers["allow"] == "POST"


async def test_an_unknown_document_id_is_not_found(
    build_app: AppFactory, only: httpx.AsyncClient, user: str
) -> None:
    unknown = {"documentId": document_id("query { me { id } }")}
    assert refused(await post(only, user, unknown), "PERSISTED_QUERY_NOT_FOUND")
    open_app = await build_app(trusted_documents=str(MANIFEST))  # not only trusted ones
    assert refused(await post(open_app.client, user, unknown), "PERSISTED_QUERY_NOT_FOUND")
    no_manifest = await build_app()
    known = {"documentId": ID["Me"]}
    assert refused(await post(no_manifest.client, user, known), "PERSISTED_QUERY_NOT_FOUND")


async def test_an_id_and_a_document_together_are_refused(
    only: httpx.AsyncClient, user: str
) -> None:
    both = {"documentId": ID["Me"], "query": "{ me { id } }"}
    assert "not both" in refused(await post(only, user, both), "BAD_REQUEST")
    not_a_string = {"documentId": 7}
    assert "`documentId` must be a string" in refused(
        await post(only, user, not_a_string), "BAD_REQUEST"
    )


async def test_only_trusted_documents_run_and_others_are_refused_before_parsing(
    only: httpx.AsyncClient, user: str
) -> None:
    ad_hoc = {"query": "{ me { id } }"}
    message = refused(await post(only, user, ad_hoc), "QUERY_NOT_IN_SAFELIST")
    assert "documentId" in message
    # Not parsed: a broken document gets the same answer, not a syntax error.
    assert refused(await post(only, user, {"query": "{ me {"}), "QUERY_NOT_IN_SAFELIST")
    # The manifest's own text, sent as a query, is trusted: it is the same document.
    text = read_manifest(MANIFEST)[ID["Me"]]
    sent = await post(only, user, {"query": text})
    assert sent.status_code == 200, sent.text
    assert sent.json()["data"]["me"]["id"] == user
    # GraphiQL is off: introspection is refused too.
    assert refused(await post(only, None, {"query": INTROSPECTION}), "QUERY_NOT_IN_SAFELIST")


async def test_introspection_still_runs_when_graphiql_is_on(
    build_app: AppFactory, user: str
) -> None:
    app = await build_app(
        trusted_documents=str(MANIFEST), trusted_documents_only=True, graphiql=True
    )
    schema = await post(app.client, None, {"query": INTROSPECTION})
    assert schema.status_code == 200, schema.text
    assert schema.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    mixed = {"query": "{ __typename me { id } }"}
    assert refused(await post(app.client, user, mixed), "QUERY_NOT_IN_SAFELIST")


async def test_apollo_persisted_queries_register_then_run_by_hash(
    build_app: AppFactory, user: str
) -> None:
    app = await build_app()
    query = "query Mine { me { id } }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    first = await post(app.client, user, apq(digest))
    # Apollo's link matches this message, then sends the document with its hash.
    assert refused(first, "PERSISTED_QUERY_NOT_FOUND") == "PersistedQueryNotFound"
    registered = await post(app.client, user, apq(digest, query))
    assert registered.json() == {"data": {"me": {"id": user}}}
    again = await post(app.client, user, apq(digest))
    assert again.json() == {"data": {"me": {"id": user}}}
    upper = await post(app.client, user, apq(digest.upper()))
    assert upper.json() == {"data": {"me": {"id": user}}}


async def test_apollo_hashes_of_the_manifest_need_no_registration(
    only: httpx.AsyncClient, user: str
) -> None:
    digest = ID["ListTasks"].removeprefix("sha256:")
    listed = await post(only, user, apq(digest, userId=user))
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"]["tasks"]["total"] == 0


async def test_apollo_registration_is_refused_when_only_trusted_documents_run(
    only: httpx.AsyncClient, user: str
) -> None:
    query = "query Mine { me { id } }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    assert refused(await post(only, user, apq(digest, query)), "QUERY_NOT_IN_SAFELIST")
    assert refused(await post(only, user, apq(digest)), "PERSISTED_QUERY_NOT_FOUND")


@pytest.mark.parametrize(
    ("persisted", "wording"),
    [
        ({"version": 2, "sha256Hash": "0" * 64}, "version"),
        ({"sha256Hash": "0" * 64}, "version"),
        ({"version": 1, "sha256Hash": "abc"}, "64 hexadecimal"),
        ({"version": 1}, "64 hexadecimal"),
        ("sha256", "version"),
    ],
)
async def test_a_malformed_persisted_query_is_a_bad_request(
    client: httpx.AsyncClient, user: str, persisted: object, wording: str
) -> None:
    body = {"query": "{ me { id } }", "extensions": {"persistedQuery": persisted}}
    assert wording in refused(await post(client, user, body), "BAD_REQUEST")


async def test_a_hash_that_is_not_the_documents_is_refused(
    client: httpx.AsyncClient, user: str
) -> None:
    body = apq("0" * 64, "{ me { id } }")
    assert refused(await post(client, user, body), "BAD_REQUEST") == (
        "provided sha does not match query"
    )


async def test_an_idempotency_key_covers_a_mutation_sent_by_id(
    only: httpx.AsyncClient, user: str
) -> None:
    body = by_id("CreateTask", user, input={"title": "Once"})
    first = await post(only, user, body, **{"idempotency-key": "k-1"})
    again = await post(only, user, body, **{"idempotency-key": "k-1"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    other = by_id("CreateTask", user, input={"title": "Other"})
    reused = await post(only, user, other, **{"idempotency-key": "k-1"})
    assert reused.status_code == 422
    listed = await post(only, user, by_id("ListTasks", user))
    assert listed.json()["data"]["tasks"]["total"] == 1


async def test_subscriptions_name_their_document_by_id(start: Start, user: str) -> None:
    server = await start(trusted_documents=str(MANIFEST), trusted_documents_only=True)
    async with ws_client(server) as socket:
        ack = await socket.init({"Authorization": f"Bearer {hs256_token(user)}"})
        assert ack["type"] == "connection_ack"
        # graphql-ws sends a `query` string with every subscribe: "" beside an id is none.
        payload = {"query": "", "documentId": ID["TaskEvents"], "variables": {"userId": user}}
        await socket.send({"id": "by-id", "type": "subscribe", "payload": payload})
        await socket.send(
            {
                "id": "bare-id",
                "type": "subscribe",
                "payload": {"documentId": ID["TaskEvents"], "variables": {"userId": user}},
            }
        )
        await server.subscribers(user, 2)
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            created = await post(http, user, by_id("CreateTask", user, input={"title": "Live"}))
        assert created.status_code == 200, created.text
        seen = {}
        for _ in range(2):
            message = await socket.receive()
            assert message["type"] == "next", message
            seen[message["id"]] = message["payload"]["data"]["taskEvents"]["task"]["title"]
        assert seen == {"by-id": "Live", "bare-id": "Live"}


async def test_a_subscription_outside_the_manifest_gets_an_error_message(
    start: Start, user: str
) -> None:
    server = await start(trusted_documents=str(MANIFEST), trusted_documents_only=True)
    async with ws_client(server) as socket:
        await socket.init({"Authorization": f"Bearer {hs256_token(user)}"})
        ad_hoc = "subscription($userId: ID!) { taskEvents(userId: $userId) { type } }"
        payload = {"query": ad_hoc, "variables": {"userId": user}}
        await socket.send({"id": "1", "type": "subscribe", "payload": payload})
        message = await socket.receive()
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "QUERY_NOT_IN_SAFELIST"
        unknown = {"documentId": document_id(ad_hoc), "variables": {"userId": user}}
        await socket.send({"id": "2", "type": "subscribe", "payload": unknown})
        message = await socket.receive()
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        # The socket stays open for a subscription the manifest holds.
        trusted = {"documentId": ID["TaskEvents"], "variables": {"userId": user}}
        await socket.send({"id": "3", "type": "subscribe", "payload": trusted})
        await server.subscribers(user, 1)


async def test_a_subscribe_payload_without_query_or_id_closes_4400(start: Start, user: str) -> None:
    server = await start()
    async with ws_client(server) as socket:
        await socket.init({"Authorization": f"Bearer {hs256_token(user)}"})
        await socket.send({"id": "1", "type": "subscribe", "payload": {"variables": {}}})
        assert (await socket.closed())[0] == 4400


def test_only_trusted_documents_needs_a_manifest(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="TRUSTED_DOCUMENTS_ONLY=true needs TRUSTED_DOCUMENTS"):
        make_settings(sqlite_url, trusted_documents_only=True)


def test_production_with_a_manifest_runs_only_trusted_documents(sqlite_url: str) -> None:
    production = {"taskql_env": "production"}
    settings = make_settings(sqlite_url, trusted_documents=str(MANIFEST), **production)
    assert settings.only_trusted_documents
    assert not make_settings(sqlite_url, trusted_documents=str(MANIFEST)).only_trusted_documents
    assert not make_settings(
        sqlite_url, trusted_documents=str(MANIFEST), trusted_documents_only=False, **production
    ).only_trusted_documents


@pytest.mark.parametrize(
    ("content", "wording"),
    [
        ("{", "is not JSON"),
        ("[]", "must hold one JSON object"),
        ('{"sha256:00": "{ me { id } }"}', "is not the sha256 of its document"),
        ('{"sha256:00": 1}', "is not a string"),
    ],
)
def test_a_bad_manifest_stops_serve_with_a_clear_message(
    tmp_path: Path, sqlite_url: str, content: str, wording: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "documents.json"
    manifest.write_text(content)
    with pytest.raises(ValueError, match=wording):
        read_manifest(manifest)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("BETTER_AUTH_SECRET", "s" * 40)
    monkeypatch.setenv("TRUSTED_DOCUMENTS", str(manifest))
    result = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert result.exit_code == 1
    assert wording in result.output
    assert "Traceback" not in result.output
