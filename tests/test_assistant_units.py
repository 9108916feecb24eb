"""The assistant's pure parts: styling, keyword matching, context trimming and usage."""

from __future__ import annotations

import asyncio
import datetime as dt

from bridge_bot.config import AssistantSettings
from bridge_bot.memory import Memory, next_reset, room_context, user_context
from bridge_bot.styling import markdown_to_styling
from schema import create_engine
from schema.migrate import upgrade_async


def test_markdown_becomes_xep0393_styling():
    markdown = "\n".join([
        "## Next steps",
        "Use **bold**, *italic*, ~~old~~ and `code **as is**`.",
        "- first",
        "  * nested",
        "Read [the guide](https://example.com/guide).",
        "```",
        "x = 2 ** 3  # **untouched**",
        "```",
    ])
    assert markdown_to_styling(markdown).split("\n") == [
        "*Next steps*",
        "Use *bold*, _italic_, ~old~ and `code **as is**`.",
        "• first",
        "  • nested",
        "Read the guide (https://example.com/guide).",
        "```",
        "x = 2 ** 3  # **untouched**",
        "```",
    ]
    assert markdown_to_styling("2 * 3 * 4 = 24") == "2 * 3 * 4 = 24"


def test_settings_honour_the_providers_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    settings = AssistantSettings()
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "sk-from-env"
    assert settings.base_url == "http://127.0.0.1:9/v1"
    assert settings.problem() is None
    assert "sk-from-env" not in repr(settings)
    monkeypatch.delenv("OPENAI_API_KEY")
    assert AssistantSettings().problem() == "not configured: no API key"
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "az-key")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com")
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-06-01")
    azure = AssistantSettings(provider="azure")
    assert (azure.resource_uri, azure.api_version, azure.problem()) == (
        "https://res.openai.azure.com", "2024-06-01", None)


def test_keywords_default_to_the_nickname():
    settings = AssistantSettings(nickname="Assistant", keywords="")
    assert settings.keyword_list() == ["assistant", "@assistant"]
    assert AssistantSettings(keywords="ChatGPT; @gpt ;").keyword_list() == ["chatgpt", "@gpt"]
    assert AssistantSettings().image_keyword_list() == ["draw", "paint"]


async def _memory(tmp_path, max_tokens: int = 100, budget: int = 1000) -> Memory:
    url = f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}"
    await upgrade_async(url)
    return Memory(create_engine(url), max_tokens, budget)


async def test_context_is_trimmed_oldest_first_keeping_the_system_prompt(tmp_path):
    memory = await _memory(tmp_path, max_tokens=40)
    context = user_context("alice@localhost")
    for index in range(10):
        await memory.remember(context, "user", f"question number {index} " + "x" * 20)
    messages = await memory.recall(context, "You are helpful.")
    assert messages[0] == {"role": "system", "content": "You are helpful."}
    kept = [m["content"] for m in messages[1:]]
    assert kept and kept[-1].startswith("question number 9")
    assert len(kept) < 10
    assert [int(k.split()[2]) for k in kept] == sorted(int(k.split()[2]) for k in kept)
    await memory.engine.dispose()


async def test_contexts_are_separate_and_clear_empties_one(tmp_path):
    memory = await _memory(tmp_path)
    alice, bob, room = (user_context("alice@localhost"), user_context("bob@localhost"),
                        room_context("team@conference.localhost"))
    for context, text in ((alice, "alice's secret"), (bob, "bob's question"), (room, "room talk")):
        await (await memory.remember(context, "user", text))
    # what was written is what a fresh process reads
    fresh = Memory(memory.engine, 100, 1000)
    assert [m["content"] for m in (await fresh.recall(room, "s"))[1:]] == ["room talk"]
    assert [m["content"] for m in (await memory.recall(alice, "s"))[1:]] == ["alice's secret"]
    assert await memory.forget(alice) == 1
    assert await memory.count(alice) == 0
    assert await memory.count(bob) == 1 and await memory.count(room) == 1
    await memory.engine.dispose()


async def test_usage_adds_up_concurrently_and_exhausts(tmp_path):
    memory = await _memory(tmp_path, budget=1000)
    await asyncio.gather(*(memory.charge("alice@localhost", 60, 40) for _ in range(8)))
    usage = await memory.usage("alice@localhost")
    assert (usage.used, usage.requests, usage.left, usage.exhausted) == (800, 8, 200, False)
    await memory.charge("alice@localhost", 150, 50)
    assert (await memory.usage("alice@localhost")).exhausted
    assert not (await memory.usage("bob@localhost")).exhausted
    assert (await Memory(memory.engine, 100, 1000).usage("alice@localhost")).used == 1000
    await memory.engine.dispose()


def test_budget_resets_at_midnight_utc():
    now = dt.datetime(2026, 11, 26, 22, 15, tzinfo=dt.UTC)
    assert next_reset(now) == dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
