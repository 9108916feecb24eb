"""What the assistant remembers, in the database: conversation context and token usage.

Reads are served from memory once a context or a user's day has been loaded, so no database
round trip sits between a question and the provider request; every change is written through to
the database by one writer at a time (SQLite would otherwise make concurrent writers sleep in its
busy handler), and callers await the write before they consider an answer done. One assistant
process owns these tables.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from schema import AssistantMessage, AssistantUsage, session_factory

from .provider import estimate_tokens


def user_context(jid: str) -> str:
    """Context key of a 1:1 chat."""
    return f"user:{jid}"


def room_context(room: str) -> str:
    """Context key of a room (shared by everyone in it)."""
    return f"room:{room}"


@dataclass(frozen=True)
class Usage:
    """One user's tokens today and what is left."""

    used: int
    budget: int
    requests: int

    @property
    def left(self) -> int:
        return max(0, self.budget - self.used) if self.budget else 1 << 62

    @property
    def exhausted(self) -> bool:
        return bool(self.budget) and self.used >= self.budget


@dataclass(frozen=True)
class Remembered:
    """One message of a context, as kept in memory."""

    role: str
    content: str
    tokens: int


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def next_reset(now: dt.datetime | None = None) -> dt.datetime:
    """When daily budgets start again (midnight UTC)."""
    now = now or dt.datetime.now(dt.UTC)
    return dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)


class Memory:
    """Context per conversation and usage per user, kept across restarts."""

    def __init__(self, engine: AsyncEngine, max_context_tokens: int, daily_budget: int) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.max_context_tokens = max_context_tokens
        self.daily_budget = daily_budget
        self._contexts: dict[str, list[Remembered]] = {}
        self._usage: dict[tuple[str, dt.date], tuple[int, int]] = {}  # -> (tokens, requests)
        self._loading: dict[str, asyncio.Lock] = {}
        self._writer = asyncio.Lock()

    async def _context(self, context: str) -> list[Remembered]:
        if context not in self._contexts:
            async with self._loading.setdefault(context, asyncio.Lock()):
                if context not in self._contexts:
                    async with self.sessions() as session:
                        rows = await session.scalars(
                            select(AssistantMessage).where(AssistantMessage.context == context)
                            .order_by(AssistantMessage.id))
                        self._contexts[context] = [Remembered(r.role, r.content, r.tokens) for r in rows]
        return self._contexts[context]

    async def remember(self, context: str, role: str, content: str) -> asyncio.Task[None]:
        """Append a message to ``context`` at once; returns the task writing it to the database."""
        message = Remembered(role, content, estimate_tokens(content))
        (await self._context(context)).append(message)

        async def write() -> None:  # Core, not the ORM: this runs while the provider answers
            async with self._writer, self.engine.begin() as connection:
                await connection.execute(insert(AssistantMessage).values(
                    context=context, role=role, content=content, tokens=message.tokens))

        return asyncio.ensure_future(write())

    async def recall(self, context: str, system_prompt: str) -> list[dict[str, str]]:
        """The messages to send: the system prompt, then the newest history that fits in
        ``max_context_tokens`` (oldest dropped first; the newest message always goes)."""
        budget = self.max_context_tokens - estimate_tokens(system_prompt)
        kept: list[Remembered] = []
        for message in reversed(await self._context(context)):
            if kept and budget - message.tokens < 0:
                break
            budget -= message.tokens
            kept.append(message)
        return [{"role": "system", "content": system_prompt},
                *({"role": m.role, "content": m.content} for m in reversed(kept))]

    async def forget(self, context: str) -> int:
        """Empty ``context``; returns how many messages went."""
        count = len(await self._context(context))
        self._contexts[context] = []
        async with self._writer, self.sessions() as session, session.begin():
            await session.execute(delete(AssistantMessage).where(AssistantMessage.context == context))
        return count

    async def count(self, context: str) -> int:
        """Messages kept for ``context``."""
        return len(await self._context(context))

    async def _day(self, user: str) -> tuple[int, int]:
        key = (user, today())
        if key not in self._usage:
            async with self.sessions() as session:
                row = await session.get(AssistantUsage, key)
            self._usage.setdefault(key, (row.prompt_tokens + row.completion_tokens, row.requests)
                                   if row else (0, 0))
        return self._usage[key]

    async def usage(self, user: str) -> Usage:
        """``user``'s tokens today."""
        used, requests = await self._day(user)
        return Usage(used, self.daily_budget, requests)

    async def charge(self, user: str, prompt_tokens: int, completion_tokens: int) -> None:
        """Add a request's tokens to ``user``'s day (an atomic upsert in the database)."""
        used, requests = await self._day(user)
        day = today()
        self._usage[(user, day)] = (used + prompt_tokens + completion_tokens, requests + 1)
        insert = sqlite_insert if self.engine.dialect.name == "sqlite" else postgresql_insert
        row = AssistantUsage
        statement = insert(row).values(user=user, day=day, prompt_tokens=prompt_tokens,
                                       completion_tokens=completion_tokens, requests=1)
        statement = statement.on_conflict_do_update(
            index_elements=["user", "day"],
            set_={"prompt_tokens": row.prompt_tokens + statement.excluded.prompt_tokens,
                  "completion_tokens": row.completion_tokens + statement.excluded.completion_tokens,
                  "requests": row.requests + 1})
        async with self._writer, self.engine.begin() as connection:
            await connection.execute(statement)
