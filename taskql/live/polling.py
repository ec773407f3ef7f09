"""Task events across replicas without LISTEN: the event log, read every so often.

Behind PgBouncer in transaction mode with no direct DATABASE_LISTEN_URL, NOTIFY cannot reach
a listener. Each process then reads the log for the users who have subscribers on it, after
the last event it saw of each. The log is dense and in commit order per user (db.models), so
nothing is skipped; a subscription drops what it already has by number.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from resolvers import event_log
from resolvers.events import EventBus, EventHub, TaskChange
from resolvers.housekeeping import Periodic


class PollingEventHub(EventHub):
    """Delivers this process's own writes at once, everyone's at the next poll."""

    def __init__(self, engine: AsyncEngine, bus: EventBus, *, interval: float) -> None:
        super().__init__(bus)
        self._engine = engine
        self._seen: dict[str, int] = {}  # per user with subscribers: the last number delivered
        self._rounds = Periodic("events-poller", self.poll, interval)

    async def start(self) -> None:
        self._rounds.start()

    async def aclose(self) -> None:
        await self._rounds.aclose()

    async def poll(self) -> int:
        """One round: every subscribed user's events since the last round; how many."""
        delivered = 0
        users = set(self.bus.users())
        for gone in set(self._seen) - users:
            del self._seen[gone]
        for user in users:
            if user not in self._seen:  # new here: its subscriptions replay up to now
                self._seen[user] = (await event_log.position(self._engine, user)).last
                continue
            async for logged in event_log.logged_after(self._engine, user, self._seen[user]):
                self.bus.deliver(TaskChange.logged(user, logged))
                self._seen[user] = logged.seq
                delivered += 1
        return delivered
