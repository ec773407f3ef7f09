"""Plans run for the front end's operations, and whatever they do not cover takes the general path
(graphql-core's Executor.execute_operation, spied on here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from graphql.execution.executor import Executor

from auth.user import AuthenticatedUser
from schema import TaskqlSchema, build_schema
from schema.context import Context
from schema.limits import Limits
from schema.plans import PlanCache
from tests.plans.conftest import EPOCH, Request, Twins
from tests.support.operations import operation


class GeneralPath:
    """Counts the operations graphql-core executes itself."""

    def __init__(self) -> None:
        self.calls = 0


@pytest.fixture
def general(monkeypatch: pytest.MonkeyPatch) -> Iterator[GeneralPath]:
    spy = GeneralPath()
    original = Executor.execute_operation

    def counted(self: Executor[Any], serially: bool | None = None) -> Any:
        spy.calls += 1
        return original(self, serially)

    monkeypatch.setattr(Executor, "execute_operation", counted)
    yield spy


def _front_end_requests(task_id: str) -> list[Request]:
    own = {"userId": "ann"}
    return [
        Request(operation("Me"), {}),
        Request(operation("ListTasks"), {**own, "first": 20}),
        Request(operation("GetTask"), {**own, "id": task_id}),
        Request(operation("CreateTask"), {**own, "input": {"title": "planned"}}),
        Request(operation("UpdateTask"), {**own, "id": task_id, "input": {"title": "again"}}),
        Request(operation("ToggleTaskComplete"), {**own, "id": task_id}),
        Request(operation("DeleteTask"), {**own, "id": "999"}),  # NOT_FOUND, planned too
    ]


async def test_the_front_ends_operations_run_as_plans_from_their_second_request(
    twins: Twins, general: GeneralPath
) -> None:
    [task_id] = await twins.reset([_row("ann", "seeded")])
    stats = twins.on.stats
    assert stats is not None
    for request in _front_end_requests(str(task_id)):
        first = await request.send(twins.on.app.client, "first")
        assert first.status_code == 200, first.text
        calls, runs = general.calls, stats.runs
        second = await request.send(twins.on.app.client, "second")
        assert second.status_code == 200, second.text
        assert (general.calls, stats.runs) == (calls, runs + 1), request.query
    assert stats.compiled == len(_front_end_requests(""))


FALLBACKS = {
    "introspection": ("{ __schema { queryType { name } } }", None),
    "a directive": (
        "query ($f: Boolean!) { me { id name @include(if: $f) } }",
        {"f": True},
    ),
    "two query fields": ('{ me { id } task(userId: "ann", id: "1") { id } }', None),
    "typename only": ("{ __typename }", None),
}


@pytest.mark.parametrize("twins", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", sorted(FALLBACKS))
async def test_what_a_plan_does_not_cover_takes_the_general_path_with_the_same_answer(
    twins: Twins, general: GeneralPath, case: str
) -> None:
    query, variables = FALLBACKS[case]
    request = Request(query, variables)
    stats = twins.on.stats
    assert stats is not None
    for _ in range(3):
        calls, runs = general.calls, stats.runs
        on, off = await twins.send(request)
        assert (on.status_code, on.content) == (off.status_code, off.content)
        assert general.calls == calls + 2  # both apps: the general path
        assert stats.runs == runs
    assert stats.compiled == 0 and stats.unplannable == 1  # judged once, then remembered


def test_plans_off_builds_the_general_path_only() -> None:
    assert plans_of(build_schema(plans=False)) is None
    assert isinstance(plans_of(build_schema()), PlanCache)


def plans_of(built: TaskqlSchema) -> PlanCache | None:
    cache: PlanCache | None = getattr(built.execution_context_class, "plans", None)
    return cache


def _context() -> Any:
    # `me` reads nothing but the user: no database needed.
    context: Any = Context.__new__(Context)
    context.user = AuthenticatedUser("ann", email="ann@example.com")
    return context


async def test_field_middleware_takes_the_general_path(general: GeneralPath) -> None:
    from strawberry.extensions import SchemaExtension

    seen: list[str] = []

    class Resolving(SchemaExtension):
        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            seen.append(info.field_name)
            return _next(root, info, *args, **kwargs)

    built = build_schema(extensions=[Resolving])
    for _ in range(3):
        result = await built.execute("{ me { id } }", context_value=_context())
        assert result.data == {"me": {"id": "ann"}}
    assert general.calls == 3 and seen.count("me") == 3


async def test_a_document_parsed_afresh_each_time_is_never_compiled(general: GeneralPath) -> None:
    built = build_schema(Limits(document_cache_size=0))
    for _ in range(3):
        result = await built.execute("{ me { id } }", context_value=_context())
        assert result.data == {"me": {"id": "ann"}}
    cache = plans_of(built)
    assert cache is not None
    assert general.calls == 3 and cache.stats.compiled == 0


async def test_the_plan_cache_is_bounded() -> None:
    built = build_schema(Limits(document_cache_size=4))
    for number in range(10):
        for _ in range(2):
            result = await built.execute(f"{{ me{number}: me {{ id }} }}", context_value=_context())
            assert result.data == {f"me{number}": {"id": "ann"}}
    cache = plans_of(built)
    assert cache is not None
    assert cache.stats.compiled == 10
    assert len(cache._plans) <= 4 and len(cache._seen) <= 4


def _row(user: str, title: str) -> dict[str, Any]:
    return {
        "user_id": user,
        "title": title,
        "description": None,
        "completed": False,
        "created_at": EPOCH,
        "updated_at": EPOCH,
        "version": 1,
    }
