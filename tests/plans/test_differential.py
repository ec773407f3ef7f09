"""Compiled plans answer exactly as the general path: the same status, content type and bytes,
and the same database afterwards, for the front end's operations and generated ones."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

from tests.plans.conftest import Request, Twins
from tests.plans.strategies import World, requests, seed_rows


@pytest.fixture
async def compared(twins: Twins) -> AsyncIterator[Twins]:
    yield twins
    # Not vacuous: the plans ran, and the reference app has none.
    assert twins.on.stats is not None and twins.on.stats.runs > 0, twins.on.stats
    assert twins.off.stats is None


def _answer(response: object) -> tuple[int, str | None, bytes]:
    return (
        response.status_code,  # type: ignore[attr-defined]
        response.headers.get("content-type"),  # type: ignore[attr-defined]
        response.content,  # type: ignore[attr-defined]
    )


@settings(
    max_examples=30,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_plans_answer_byte_for_byte_as_the_general_path(
    compared: Twins, data: st.DataObject
) -> None:
    rows = data.draw(seed_rows(), label="rows")
    ids = await compared.reset(rows)
    world = World.of(rows, ids)
    sent = data.draw(st.lists(requests(world), min_size=1, max_size=5), label="requests")
    stats = compared.on.stats
    assert stats is not None
    for request in sent:
        if request.query not in compared.planned:
            # A document is compiled the second time it runs; without a token it runs and
            # changes nothing (every field is UNAUTHENTICATED), and is compared too.
            anonymous = Request(request.query, request.variables, request.operation_name, None)
            on, off = await compared.send(anonymous)
            assert _answer(on) == _answer(off)
        runs = stats.runs
        on, off = await compared.send(request)
        note(f"{request} -> {off.status_code} {off.text}")
        if stats.runs > runs:
            compared.planned.add(request.query)
        event(("plan" if stats.runs > runs else "general path") + f" {off.status_code}")
        assert _answer(on) == _answer(off)
    on_rows, off_rows = await compared.states()
    assert on_rows == off_rows
