"""Compiled plans: a document's operation, compiled once, run without per-field graphql-core or
Strawberry machinery, with the general path's data and errors.

`PlanCache` finds or compiles the plan of an executor's operation; the execution context runs
it in place of graphql-core's execute_operation (schema/execution.py). Anything a plan does not
cover falls back to the general path.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import OperationDefinitionNode
from graphql.execution.executor import Executor

from schema.plans.compile import Unplannable, compile_plan
from schema.plans.plan import Plan

__all__ = ["Plan", "PlanCache", "PlanStats"]

T = TypeVar("T")


@dataclass(slots=True)
class PlanStats:
    """How often plans ran and the general path was taken instead (for tests and curiosity)."""

    compiled: int = 0
    unplannable: int = 0
    runs: int = 0
    fallbacks: int = 0


class PlanCache:
    """Plans by operation, in a bounded LRU.

    Keyed by the operation node's identity: the document cache (schema/limits.py) hands every
    request with the same text the same parsed document, so a document it holds is compiled
    once. An operation is compiled the second time it is seen, so a document parsed afresh
    for every request (never the same object twice) is never compiled at all. Each entry
    holds its node, so the id cannot be reused while it is cached.
    """

    def __init__(self, maxsize: int = 256) -> None:
        self.maxsize = maxsize
        self.stats = PlanStats()
        self._plans: OrderedDict[int, tuple[OperationDefinitionNode, Plan | None]] = OrderedDict()
        self._seen: OrderedDict[int, OperationDefinitionNode] = OrderedDict()

    def plan_for(self, executor: Executor[Any]) -> Plan | None:
        operation = executor.operation
        key = id(operation)
        entry = self._plans.get(key)
        if entry is None or entry[0] is not operation:
            if self._seen.pop(key, None) is not operation:
                self._remember(self._seen, key, operation)
                return None
            entry = (operation, self._compile(executor))
            self._remember(self._plans, key, entry)
        else:
            self._plans.move_to_end(key)
        plan = entry[1]
        if plan is None or not plan.fits(executor.fragment_definitions):
            return None
        return plan

    def _compile(self, executor: Executor[Any]) -> Plan | None:
        try:
            plan = compile_plan(executor)
        except Unplannable:
            self.stats.unplannable += 1
            return None
        self.stats.compiled += 1
        return plan

    def _remember(self, entries: OrderedDict[int, T], key: int, value: T) -> None:
        entries[key] = value
        entries.move_to_end(key)
        while len(entries) > self.maxsize:
            entries.popitem(last=False)
