"""Search ignores case in every script, and SQLite finds exactly what PostgreSQL finds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.graphql import gql
from tests.support.operations import CREATE_TASK, LIST_TASKS
from tests.support.tokens import TokenFactory


class Alice:
    def __init__(self, client: httpx.AsyncClient, token: TokenFactory) -> None:
        self.client, self.token = client, token("alice")

    async def create(self, title: str, description: str | None = None) -> None:
        variables = {"userId": "alice", "input": {"title": title, "description": description}}
        response = await gql(self.client, CREATE_TASK, variables, token=self.token)
        assert "errors" not in response.json(), response.text

    async def found(self, term: str) -> set[str]:
        variables: dict[str, Any] = {"userId": "alice", "filter": {"search": term}, "first": 100}
        response = await gql(self.client, LIST_TASKS, variables, token=self.token)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, response.text
        return {task["title"] for task in body["data"]["tasks"]["items"]}


@pytest.fixture
def alice(client: httpx.AsyncClient, token: TokenFactory) -> Alice:
    return Alice(client, token)


async def test_search_ignores_case_beyond_ascii(alice: Alice) -> None:
    for title in ("Ärger im Büro", "ÉCOLE", "Ωμέγα", "ПРИВЕТ мир", "ЁЛКА", "İstanbul", "straße"):
        await alice.create(title)
    assert await alice.found("ärger") == {"Ärger im Büro"}
    assert await alice.found("BÜRO") == {"Ärger im Büro"}
    assert await alice.found("école") == {"ÉCOLE"}
    assert await alice.found("ΩΜΈΓΑ") == {"Ωμέγα"}
    assert await alice.found("привет МИР") == {"ПРИВЕТ мир"}
    assert await alice.found("ёлка") == {"ЁЛКА"}
    assert await alice.found("ISTANBUL") == {"İstanbul"}  # PostgreSQL lowers İ to a plain i
    assert await alice.found("STRAẞE") == {"straße"}  # capital sharp s lowers to ß


async def test_search_ignores_case_in_descriptions_too(alice: Alice) -> None:
    await alice.create("shopping", "Äpfel und BIRNEN")
    await alice.create("other", "nothing here")
    assert await alice.found("äPFEL") == {"shopping"}
    assert await alice.found("birnen") == {"shopping"}


async def test_search_lowers_letter_by_letter_as_postgresql_does(alice: Alice) -> None:
    # Lowering, not case folding: ß is not SS, and a final Σ lowers to σ, never to ς.
    for title in ("straße", "STRASSE", "ΟΔΟΣ"):
        await alice.create(title)
    assert await alice.found("STRASSE") == {"STRASSE"}
    assert await alice.found("straße") == {"straße"}
    assert await alice.found("οδοσ") == {"ΟΔΟΣ"}
    assert await alice.found("οδος") == set()


async def test_wildcards_in_a_search_stay_literal_beyond_ascii(alice: Alice) -> None:
    for title in ("100% ÄRGER", "1000 ÄRGER", "Ä_Ö", "ÄXÖ"):
        await alice.create(title)
    assert await alice.found("0% ä") == {"100% ÄRGER"}
    assert await alice.found("ä_ö") == {"Ä_Ö"}
    assert await alice.found("%") == {"100% ÄRGER"}
    assert await alice.found("_") == {"Ä_Ö"}
