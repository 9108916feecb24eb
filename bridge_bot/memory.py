"""What the assistant remembers, in the database: conversation context and token usage."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select
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

    async def remember(self, context: str, role: str, content: str) -> None:
        """Append a message to ``context``."""
        async with self.sessions() as session, session.begin():
            session.add(AssistantMessage(context=context, role=role, content=content,
                                         tokens=estimate_tokens(content)))

    async def recall(self, context: str, system_prompt: str) -> list[dict[str, str]]:
        """The messages to send: the system prompt, then the newest history that fits in
        ``max_context_tokens`` (oldest dropped first; the newest message always goes)."""
        budget = self.max_context_tokens - estimate_tokens(system_prompt)
        rows: list[AssistantMessage] = []
        async with self.sessions() as session:
            result = await session.stream_scalars(
                select(AssistantMessage).where(AssistantMessage.context == context)
                .order_by(AssistantMessage.id.desc()))
            async for row in result:
                if rows and budget - row.tokens < 0:
                    break
                budget -= row.tokens
                rows.append(row)
        return [{"role": "system", "content": system_prompt},
                *({"role": r.role, "content": r.content} for r in reversed(rows))]

    async def forget(self, context: str) -> int:
        """Empty ``context``; returns how many messages went."""
        async with self.sessions() as session, session.begin():
            result = await session.execute(delete(AssistantMessage).where(
                AssistantMessage.context == context))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def count(self, context: str) -> int:
        """Messages kept for ``context``."""
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).where(
                AssistantMessage.context == context)) or 0)

    async def usage(self, user: str) -> Usage:
        """``user``'s tokens today."""
        async with self.sessions() as session:
            row = await session.get(AssistantUsage, (user, today()))
        used = (row.prompt_tokens + row.completion_tokens) if row else 0
        return Usage(used, self.daily_budget, row.requests if row else 0)

    async def charge(self, user: str, prompt_tokens: int, completion_tokens: int) -> None:
        """Add a request's tokens to ``user``'s day (one atomic upsert, safe under concurrency)."""
        insert = sqlite_insert if self.engine.dialect.name == "sqlite" else postgresql_insert
        row = AssistantUsage
        statement = insert(row).values(user=user, day=today(), prompt_tokens=prompt_tokens,
                                       completion_tokens=completion_tokens, requests=1)
        statement = statement.on_conflict_do_update(
            index_elements=["user", "day"],
            set_={"prompt_tokens": row.prompt_tokens + statement.excluded.prompt_tokens,
                  "completion_tokens": row.completion_tokens + statement.excluded.completion_tokens,
                  "requests": row.requests + 1})
        async with self.engine.begin() as connection:
            await connection.execute(statement)
