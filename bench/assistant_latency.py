"""The assistant's own cost: how much it adds between a question and the first streamed words.

A user (bare slixmpp client) asks the assistant through ejabberd; the provider is the local
OpenAI-wire server with a fixed time to first token. *Ours* is the user's time from sending the
question to receiving the first words; *peer* is the time to first token of a bare ``openai``
client asking the same server directly. Their difference is what the assistant and the XMPP
round trip add (target: ≤ 10 ms at p50). It also checks connection reuse and that 20 users asking
at once do not wait for each other.

The provider streams its words 20 ms apart, as a model producing ~50 tokens a second does. With
every word sent at once (``CHUNK_DELAY = 0``) the whole answer lands together: the assistant then
sends its final correction right behind the first words and the server archives both while the
first is on its way, which adds 2–4 ms on this 2-core machine (8.6–11.7 ms measured).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import openai

from bridge_bot.config import AssistantSettings
from tests.clients import RawClient

from .common import Figure, account, p50

QUESTIONS = 40
TTFT = 0.05
CHUNK_DELAY = 0.02
"""Seconds between streamed words, as a provider producing ~50 tokens a second sends them."""
CROWD = 20


async def _direct_ttft(base_url: str) -> list[float]:
    """The provider's own time to first token for the same growing conversation the assistant
    sends (system prompt, then every earlier question and answer)."""
    samples = []
    messages: list[dict[str, str]] = [{"role": "system", "content": AssistantSettings().system_prompt}]
    async with openai.AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=2) as client:
        for index in range(QUESTIONS):
            messages.append({"role": "user", "content": f"question {index}"})
            start = time.perf_counter()
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", stream=True, messages=messages,  # type: ignore[arg-type]
                stream_options={"include_usage": True})
            answer = []
            async with stream:
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        if not answer:
                            samples.append((time.perf_counter() - start) * 1000)
                        answer.append(chunk.choices[0].delta.content)
            messages.append({"role": "assistant", "content": "".join(answer)})
    return samples


async def _first_words(user: RawClient, bot_jid: str, text: str) -> float:
    """Ask, and return the milliseconds until the answer's first words arrived; returns once the
    whole answer is done (the assistant's ``active`` chat state), so the next question does not
    queue behind this one in the same conversation."""
    loop = asyncio.get_running_loop()
    arrived: asyncio.Future[float] = loop.create_future()
    finished: asyncio.Future[None] = loop.create_future()

    def on_message(message) -> None:
        correction = message.xml.find("{urn:xmpp:message-correct:0}replace") is not None
        if message["from"].bare == bot_jid and message["body"] and not correction and not arrived.done():
            arrived.set_result(time.perf_counter())

    def on_state(message) -> None:
        if message["from"].bare == bot_jid and arrived.done() and not finished.done():
            finished.set_result(None)

    user.add_event_handler("message", on_message)
    user.add_event_handler("chatstate_active", on_state)
    start = time.perf_counter()
    user.send_message(mto=bot_jid, mbody=text, mtype="chat")
    try:
        first = (await asyncio.wait_for(arrived, 10) - start) * 1000
        await asyncio.wait_for(finished, 10)
        return first
    finally:
        user.del_event_handler("message", on_message)
        user.del_event_handler("chatstate_active", on_state)


async def run(server) -> list[Figure]:
    settings = server.settings
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-bot-") as folder:
        # the provider runs in a process of its own, as a real one would
        provider = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.provider_process", str(TTFT), str(CHUNK_DELAY),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert provider.stdout is not None and provider.stdin is not None
        base_url = (await provider.stdout.readline()).decode().strip()
        try:
            jid, password = account(server, "assistant")
            # the assistant runs in its own process, as the launcher runs it
            env = dict(os.environ, SWITCHBOARD_ASSISTANT_JID=jid,
                       SWITCHBOARD_ASSISTANT_PASSWORD=password,
                       SWITCHBOARD_ASSISTANT_SERVER=settings.bind_ip,
                       SWITCHBOARD_ASSISTANT_PORT=str(settings.c2s_port),
                       SWITCHBOARD_ASSISTANT_CA_FILE=str(settings.ca_file),
                       SWITCHBOARD_ASSISTANT_API_KEY="sk-bench",
                       SWITCHBOARD_ASSISTANT_BASE_URL=base_url,
                       SWITCHBOARD_ASSISTANT_DAILY_TOKEN_BUDGET="0",
                       SWITCHBOARD_ASSISTANT_DATABASE_URL=f"sqlite+aiosqlite:///{Path(folder) / 'a.db'}")
            log_file = Path(folder) / "assistant.log"
            bot = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bridge_bot", "--log-file", str(log_file), env=env)
            users = []
            try:
                for _ in range(CROWD):
                    user_jid, user_password = account(server, "user")
                    server.ensure_group(f"bench-{uuid.uuid4().hex[:6]}", "Bench",
                                        [user_jid.split("@")[0], jid.split("@")[0]])
                    user = RawClient(user_jid + "/bench", user_password, settings)
                    await user.start()
                    users.append(user)
                await _wait_online(users[0], jid)
                direct = await _direct_ttft(base_url)
                before = await _connections(provider)
                ours = [await _first_words(users[0], jid, f"question {i}") for i in range(QUESTIONS)]
                connections = await _connections(provider) - before
                alone = await _first_words(users[1], jid, "alone")
                crowd = await asyncio.gather(*(_first_words(u, jid, "all at once") for u in users))
            finally:
                for user in users:
                    await user.stop()
                bot.terminate()
                await bot.wait()
        finally:
            provider.stdin.close()
            await provider.wait()
    added = p50(ours) - p50(direct)
    serial = TTFT * 1000 * CROWD  # what the slowest would wait if answers queued behind each other
    return [
        Figure("assistant: question → first words, p50", "ms", p50(ours), p50(direct),
               "direct openai", target=f"added {added:.1f} ms ≤ 10 ms"),
        Figure(f"assistant: {QUESTIONS} questions, new TCP connections", "conn", float(connections),
               1.0, "one, reused", target="≤ 1 (the first)"),
        Figure(f"assistant: {CROWD} at once, slowest first words", "ms", max(crowd), alone,
               "one alone   ", target=f"far below {serial:.0f} ms (queued)"),
    ]


async def _connections(provider: asyncio.subprocess.Process) -> int:
    """TCP connections the provider process has seen so far."""
    assert provider.stdin is not None and provider.stdout is not None
    provider.stdin.write(b"stats\n")
    await provider.stdin.drain()
    return int((await provider.stdout.readline()).decode())


async def _wait_online(user: RawClient, bot_jid: str) -> None:
    """Until the assistant's presence reaches ``user`` (it has logged in)."""
    online = asyncio.Event()
    user.add_event_handler("presence_available", lambda p: p["from"].bare == bot_jid and online.set())
    if user.client_roster[bot_jid].resources:
        return
    await asyncio.wait_for(online.wait(), 30)
