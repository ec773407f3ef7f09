"""GraphQL object types (SPEC §2), built from database rows."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from db.models import TaskState
from resolvers.events import ChangeKind
from resolvers.pagination import Order
from resolvers.tasks import Page


# The GraphQL twins of the resolvers' enums (strawberry.enum marks the class it is given, so the
# resolvers' own are left alone); same members, same values, checked below.
@strawberry.enum(description="How `tasks` is sorted.")
class TaskOrder(Enum):
    CREATED_AT_DESC = "CREATED_AT_DESC"
    CREATED_AT_ASC = "CREATED_AT_ASC"
    UPDATED_AT_DESC = "UPDATED_AT_DESC"
    TITLE_ASC = "TITLE_ASC"

    def order(self) -> Order:
        return Order(self.value)


@strawberry.enum(description="What happened to the task.")
class TaskEventType(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


for _twin, _domain in ((TaskOrder, Order), (TaskEventType, ChangeKind)):
    if [(m.name, m.value) for m in _twin] != [(m.name, m.value) for m in _domain]:
        raise RuntimeError(f"{_twin.__name__} must have {_domain.__name__}'s members")


@strawberry.type(description="Who the token says you are.")
class Viewer:
    id: strawberry.ID
    email: str | None
    name: str | None


@strawberry.type(description="A task owned by one user.")
class Task:
    id: strawberry.ID
    user_id: strawberry.ID
    title: str
    description: str | None
    completed: bool
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(
        description="1 when created, +1 on every change; what `expectedVersion` is compared with."
    )

    @classmethod
    def from_row(cls, row: TaskState) -> Task:
        return cls(
            id=strawberry.ID(str(row.id)),
            user_id=strawberry.ID(row.user_id),
            title=row.title,
            description=row.description,
            completed=row.completed,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="One page of tasks; `total` counts every task matching the filter.")
class TaskConnection:
    items: list[Task]
    total: int
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: Page) -> TaskConnection:
        return cls(
            items=[Task.from_row(row) for row in page.items],
            total=page.total,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )


@strawberry.type(description="A committed change to one of your tasks.")
class TaskEvent:
    cursor: str = strawberry.field(
        description="Where this event is in your stream: pass it as `after` to resume."
    )
    type: TaskEventType
    task_id: strawberry.ID
    task: Task | None = strawberry.field(
        description="The task as this change left it; null for DELETED."
    )
