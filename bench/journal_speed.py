"""The journal's storage against raw SQL on the same SQLite database, in the same run.

* ingest: archive stanzas through ``JournalStore.ingest`` (entries, full-text rows, cursor, in
  batches of 1,000 as the component does) vs a raw ``executemany`` of the same entry rows;
* queries at 1,000,000 entries: a contact's last 50, a one-hour page of 100, entries per day for
  a month, a full-text filter — ``JournalStore`` (async SQLAlchemy) vs the raw ``sqlite3`` cursor
  running the same SQL; the plans must use the journal's indexes.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from schema import create_engine
from schema.migrate import upgrade_async
from xmpp_components.journal.archive import ArchivedStanza
from xmpp_components.journal.store import JournalStore, _match, owner_key, search_text

from .common import Figure

INGEST = int(os.environ.get("BENCH_JOURNAL_INGEST", "200000"))
ROWS = int(os.environ.get("BENCH_JOURNAL_ROWS", "1000000"))
OWNERS = 1000
PEERS = 200
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
WORDS = ("offer", "contract", "invoice", "meeting", "lunch", "budget", "Zanzibar", "quarterly",
         "figures", "call", "back", "tomorrow", "agenda", "review", "deadline")


def _stanzas(count: int, rng: random.Random, first: int = 0) -> list[ArchivedStanza]:
    """Messages spaced so every one starts a new conversation (a quiet gap apart)."""
    out = []
    for index in range(first, first + count):
        owner = f"user{index % OWNERS}@localhost"
        peer = f"peer{rng.randrange(PEERS)}@localhost"
        when = T0 + dt.timedelta(minutes=31 * (index // OWNERS), seconds=index % OWNERS)
        out.append(ArchivedStanza(index + 1, owner, False, peer, "", when, index % 2 == 0,
                                  " ".join(rng.choice(WORDS) for _ in range(6)), False, None))
    return out


def _rows(stanzas: list[ArchivedStanza]) -> list[tuple[object, ...]]:
    return [(s.archive, "chat", "out" if s.outgoing else "in", s.peer, "answered",
             s.when.strftime("%Y-%m-%d %H:%M:%S.%f"), s.when.strftime("%Y-%m-%d %H:%M:%S.%f"), 0,
             0 if s.outgoing else 1, 1 if s.outgoing else 0, s.body, "", "", None, f"archive:{s.id}")
            for s in stanzas]


RAW_INSERT = ("INSERT INTO journal_entry (owner, kind, direction, peer, result, started_at, ended_at, "
              "duration_s, messages_in, messages_out, preview, line, recording, reminder_at, source) "
              "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")


async def _fresh(path: Path) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_async(url)
    return url


async def _ingest(folder: Path) -> list[Figure]:
    stanzas = _stanzas(INGEST, random.Random(1))
    ours_url = await _fresh(folder / "ours.db")
    engine = create_engine(ours_url)
    store = JournalStore(engine, "localhost")
    start = time.perf_counter()
    for first in range(0, len(stanzas), 1000):
        batch = stanzas[first:first + 1000]
        await store.ingest(batch, batch[-1].id)
    ours = time.perf_counter() - start
    await engine.dispose()

    await _fresh(folder / "raw.db")
    raw = sqlite3.connect(folder / "raw.db")
    rows = _rows(stanzas)
    start = time.perf_counter()
    for first in range(0, len(rows), 1000):
        raw.executemany(RAW_INSERT, rows[first:first + 1000])
        raw.commit()
    peer = time.perf_counter() - start
    raw.close()
    return [Figure(f"journal ingest, {INGEST:,} entries (entries/s)", "/s", INGEST / ours, INGEST / peer,
                   "raw executemany", target="≥ 0.5")]


QUERIES = {
    "a contact's last 50": (
        "SELECT * FROM journal_entry WHERE owner = :owner AND peer = :peer "
        "ORDER BY started_at DESC, id DESC LIMIT 50", "ix_journal_entry_owner_peer_started"),
    "a one-hour page of 100": (
        "SELECT * FROM journal_entry WHERE owner = :owner AND started_at >= :start AND started_at < :end "
        "ORDER BY started_at DESC, id DESC LIMIT 100", "ix_journal_entry_owner_started"),
    "per day for a month": (
        "SELECT date(started_at), count(*) FROM journal_entry WHERE owner = :owner AND "
        "started_at >= :start AND started_at < :month_end GROUP BY date(started_at)",
        "ix_journal_entry_owner_started"),
    "full-text filter": (
        "SELECT * FROM journal_entry WHERE owner = :owner AND id IN (SELECT rowid FROM journal_search "
        "WHERE journal_search MATCH :words) ORDER BY started_at DESC, id DESC LIMIT 50",
        "journal_search VIRTUAL TABLE INDEX"),
}


async def _queries(folder: Path) -> list[Figure]:
    path = folder / "big.db"
    url = await _fresh(path)
    raw = sqlite3.connect(path)
    rng = random.Random(2)
    for first in range(0, ROWS, 50_000):
        rows = _rows(_stanzas(min(50_000, ROWS - first), rng, first))
        raw.executemany(RAW_INSERT, rows)
        raw.commit()
    raw.executemany("INSERT INTO journal_search (rowid, owner_key, text) VALUES (?, ?, ?)",
                    [(i, owner_key(o), search_text(o, f"{p} {t}"))
                     for i, o, p, t in raw.execute("SELECT id, owner, peer, preview FROM journal_entry")])
    raw.commit()
    raw.execute("ANALYZE")
    engine = create_engine(url)
    store = JournalStore(engine, "localhost")
    figures = []
    owners = [f"user{i}@localhost" for i in range(OWNERS)]
    for name, (sql, index) in QUERIES.items():
        plan = " ".join(str(r) for r in raw.execute("EXPLAIN QUERY PLAN " + sql, _params(owners[0])))
        assert index in plan, f"{name}: the plan does not use {index}: {plan}"
        ours, peer = [], []
        for sample in range(300):
            params = _params(owners[sample % OWNERS])
            start = time.perf_counter()
            raw.execute(sql, params).fetchall()
            peer.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            await _ours(store, name, params)
            ours.append((time.perf_counter() - start) * 1000)
        figures.append(Figure(f"journal at {ROWS:,}: {name}, p99", "ms", _p99(ours), _p99(peer),
                              "raw cursor  ", target="≤ 3, and ≤ 2 ms"))
    await engine.dispose()
    raw.close()
    return figures


def _params(owner: str) -> dict[str, object]:
    # the middle of the data: every owner has an entry each 31 minutes
    start = T0 + dt.timedelta(minutes=31 * (ROWS // OWNERS) // 2)
    return {"owner": owner, "peer": "peer7@localhost", "start": start.strftime("%Y-%m-%d %H:%M:%S"),
            "end": (start + dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
            "month_end": (start + dt.timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S"),
            "words": _match([owner], "contract zanzibar")}


async def _ours(store: JournalStore, name: str, params: dict[str, object]) -> None:
    owner = [str(params["owner"])]
    start = dt.datetime.fromisoformat(str(params["start"])).replace(tzinfo=dt.UTC)
    if name == "a contact's last 50":
        await store.query(owner, peer=str(params["peer"]), limit=50, count=False)
    elif name == "a one-hour page of 100":
        await store.query(owner, start=start, end=start + dt.timedelta(hours=1), limit=100, count=False)
    elif name == "per day for a month":
        await store.per_day(owner, start, start + dt.timedelta(days=30))
    else:
        await store.query(owner, search="contract zanzibar", limit=50, count=False)


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def run(_server: object = None) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-journal-") as folder:
        figures = await _ingest(Path(folder))
        figures += await _queries(Path(folder))
    return figures
