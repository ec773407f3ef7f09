"""GraphQL input types (SPEC §2)."""

from __future__ import annotations

import strawberry


@strawberry.input
class TaskFilter:
    completed: bool | None = None
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive match in title or description."
    )


@strawberry.input
class CreateTaskInput:
    title: str = strawberry.field(description="1 to 200 characters after trimming.")
    description: str | None = strawberry.field(default=None, description="At most 1000 characters.")


@strawberry.input(
    description="Only the fields given change; an explicit null description clears it."
)
class UpdateTaskInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    completed: bool | None = strawberry.UNSET

    def changes(self) -> dict[str, object]:
        fields = {"title": self.title, "description": self.description, "completed": self.completed}
        return {name: value for name, value in fields.items() if value is not strawberry.UNSET}
