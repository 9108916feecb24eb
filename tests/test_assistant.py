"""The assistant against the real ejabberd and a local server speaking the OpenAI wire format.

The people talking to it are bare slixmpp clients (not our client code).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from slixmpp import JID

from bridge_bot.bot import AssistantBot
from bridge_bot.config import AssistantSettings
from bridge_bot.memory import Memory, user_context
from schema import create_engine
from schema.migrate import upgrade_async
from xmpp_components.base.logging import setup_logging

from .fake_openai import FakeOpenAI, message_text

KEY = "sk-test-key"


def context_reply(request: dict[str, Any]) -> str:
    """The model 'answers' with every user message it was given, so tests can see the context."""
    users = [message_text(m["content"]) for m in request["messages"] if m["role"] == "user"]
    return "Seen: " + " | ".join(users)


@dataclass
class Answer:
    """What a person's client saw of one answer: the first message and its corrections."""

    first: Any = None
    corrections: list[Any] = field(default_factory=list)

    @property
    def text(self) -> str:
        last = self.corrections[-1] if self.corrections else self.first
        return last["body"]


class Listener:
    """Collects what the assistant sends to one client, 1:1 or in a room."""

    def __init__(self, client, source: str) -> None:
        self.source = source
        self.queue: asyncio.Queue = asyncio.Queue()
        # slixmpp raises 'message' for room messages too, and 'groupchat_message' besides
        client.add_event_handler("message", lambda m: m["type"] == "groupchat" or self._on(m))
        client.add_event_handler("groupchat_message", self._on)
        # slixmpp raises 'message' only for messages with a body; chat states come on their own
        client.add_event_handler("chatstate", lambda m: m["body"] or self._on(m))

    def _on(self, message) -> None:
        if message["from"].bare == self.source or str(message["from"]) == self.source:
            self.queue.put_nowait(message)

    async def answer(self, timeout: float = 15) -> Answer:
        """The next answer, complete: everything up to the assistant's ``active`` chat state."""
        answer = Answer()

        async def collect() -> Answer:
            while True:
                message = await self.queue.get()
                if message["body"]:
                    if message["replace"]["id"]:
                        assert answer.first is not None
                        assert message["replace"]["id"] == answer.first["id"]
                        answer.corrections.append(message)
                    else:
                        answer.first = message
                elif message["chat_state"] == "active" and answer.first is not None:
                    return answer

        return await asyncio.wait_for(collect(), timeout)

    async def text(self, timeout: float = 15) -> str:
        """The next plain message's body (commands, refusals, errors)."""

        async def collect() -> str:
            while True:
                message = await self.queue.get()
                if message["body"]:
                    return message["body"]

        return await asyncio.wait_for(collect(), timeout)


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=KEY) as server:
        yield server


@pytest.fixture
async def start_assistant(ejabberd, fake_openai, tmp_path):
    """Start assistant bots on fresh accounts (or a given one), each stopped afterwards."""
    bots: list[AssistantBot] = []
    engines = []
    database = f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}"
    await upgrade_async(database)

    async def start(account: tuple[str, str] | None = None, **overrides: Any) -> AssistantBot:
        if account is None:
            user, password = f"assistant-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
            ejabberd.register(user, password)
            account = (f"{user}@{ejabberd.settings.domain}", password)
        values: dict[str, Any] = {
            "jid": account[0], "password": account[1], "server": ejabberd.settings.bind_ip,
            "port": ejabberd.settings.c2s_port, "ca_file": str(ejabberd.settings.ca_file),
            "nickname": "assistant", "api_key": KEY, "base_url": fake_openai.base_url,
            "max_retries": 1, "updates_per_second": 20.0, "database_url": database}
        values.update(overrides)
        settings = AssistantSettings(**values)
        engine = create_engine(database)
        engines.append(engine)
        bot = AssistantBot(settings, Memory(engine, settings.max_context_tokens,
                                            settings.daily_token_budget))
        bots.append(bot)
        await bot.start()
        return bot

    yield start
    for bot in bots:
        await bot.stop()
    for engine in engines:
        await engine.dispose()


async def person(raw_client, make_account, ejabberd, bot: AssistantBot, name: str):
    """A user of the bot's domain in a roster group with it, logged in with a bare client."""
    account = make_account(name)
    ejabberd.ensure_group(f"g-{uuid.uuid4().hex[:6]}", "Team", [account.jid.user, bot.jid.user])
    client = await raw_client(account, plugins=("xep_0045", "xep_0249", "xep_0308", "xep_0313",
                                                "xep_0334", "xep_0066"))
    return account, client, Listener(client, bot.jid.bare)


def ask(client, to: str, body: str, mtype: str = "chat") -> Any:
    message = client.make_message(mto=to, mbody=body, mtype=mtype)
    message["id"] = str(uuid.uuid4())
    message.enable("markable")
    message.send()
    return message


async def test_answers_one_to_one_like_a_person(start_assistant, fake_openai, raw_client,
                                                make_account, ejabberd):
    fake_openai.chunk_delay = 0.03
    fake_openai.reply = lambda request: "**Four**, as in two plus two, " + "really " * 12 + "four."
    bot = await start_assistant()
    alice, client, listener = await person(raw_client, make_account, ejabberd, bot, "alice")
    receipts: asyncio.Queue = asyncio.Queue()
    markers: asyncio.Queue = asyncio.Queue()
    states: list[str] = []
    client.add_event_handler("receipt_received", receipts.put_nowait)
    client.add_event_handler("marker_displayed", markers.put_nowait)
    client.add_event_handler("chatstate", lambda m: states.append(m["chat_state"]))

    question = ask(client, bot.jid.bare, "What is 2+2?")
    answer = await listener.answer()
    assert answer.text == "*Four*, as in two plus two, " + "really " * 12 + "four."  # XEP-0393
    assert (await asyncio.wait_for(receipts.get(), 5))["receipt"] == question["id"]
    assert (await asyncio.wait_for(markers.get(), 5))["displayed"]["id"] == question["id"]
    assert states[0] == "composing" and states[-1] == "active"
    # streamed: intermediate corrections are not archived, the final one is
    assert answer.corrections, "the answer should stream in as corrections"
    assert all(c.xml.find("{urn:xmpp:hints}no-store") is not None for c in answer.corrections[:-1])
    assert answer.corrections[-1].xml.find("{urn:xmpp:hints}no-store") is None
    sent = fake_openai.requests_to("/v1/chat/completions")[-1].json
    assert sent["stream"] is True
    assert sent["messages"][0]["role"] == "system"
    assert sent["messages"][-1] == {"role": "user", "content": "What is 2+2?"}

    # a client that comes back later finds the first and the final version in the archive
    later = await raw_client(alice, resource="later", plugins=("xep_0313",))
    result = await later.plugin["xep_0313"].retrieve(with_jid=bot.jid, timeout=5)
    archived = [r["mam_result"]["forwarded"]["stanza"] for r in result["mam"]["results"]]
    from_bot = [m for m in archived if m["from"].bare == bot.jid.bare and m["body"]]
    assert [m["body"] for m in from_bot] == [answer.first["body"], answer.text]


async def test_contexts_are_per_user_and_survive_restart_and_clear(start_assistant, fake_openai,
                                                                   raw_client, make_account, ejabberd):
    fake_openai.reply = context_reply
    bot = await start_assistant()
    _alice, alice_client, alice_hears = await person(raw_client, make_account, ejabberd, bot, "alice")
    _bob, bob_client, bob_hears = await person(raw_client, make_account, ejabberd, bot, "bob")

    ask(alice_client, bot.jid.bare, "My project is Falcon")
    assert (await alice_hears.answer()).text == "Seen: My project is Falcon"
    ask(bob_client, bot.jid.bare, "What is my project?")
    assert (await bob_hears.answer()).text == "Seen: What is my project?"  # nothing of alice's

    # a restarted assistant remembers
    account = (str(bot.jid.bare), bot.settings.password.get_secret_value())
    await bot.stop()
    restarted = await start_assistant(account)
    ask(alice_client, restarted.jid.bare, "And its budget?")
    assert (await alice_hears.answer()).text == "Seen: My project is Falcon | And its budget?"

    ask(alice_client, restarted.jid.bare, "/clear")
    assert "forgot your conversation (4 messages)" in await alice_hears.text()
    ask(alice_client, restarted.jid.bare, "Fresh start")
    assert (await alice_hears.answer()).text == "Seen: Fresh start"


async def test_rooms_answer_only_when_tagged_with_their_own_context(start_assistant, fake_openai,
                                                                    raw_client, make_account, ejabberd):
    fake_openai.reply = context_reply
    bot = await start_assistant()
    alice, client, direct = await person(raw_client, make_account, ejabberd, bot, "alice")
    room = JID(f"team-{uuid.uuid4().hex[:6]}@conference.{ejabberd.settings.domain}")
    muc = client.plugin["xep_0045"]
    await muc.join_muc_wait(room, "alice", timeout=10)
    await muc.set_room_config(room, await muc.get_room_config(room), timeout=10)
    ask(client, room.bare, "@assistant this was said before you came", mtype="groupchat")
    joined: asyncio.Future = asyncio.get_running_loop().create_future()
    client.add_event_handler(f"muc::{room.bare}::got_online",
                             lambda p: p["muc"]["nick"] == "assistant" and not joined.done()
                             and joined.set_result(True))
    client.plugin["xep_0249"].send_invitation(bot.jid.bare, room.bare, reason="join us")
    await asyncio.wait_for(joined, 15)
    in_room = Listener(client, f"{room.bare}/assistant")

    ask(client, room.bare, "just chatting, nobody tagged", mtype="groupchat")
    ask(client, room.bare, "@Assistant, what did we decide?", mtype="groupchat")
    answer = await in_room.answer()
    assert answer.text == "alice: Seen: alice: what did we decide?"  # history and untagged ignored
    ask(client, room.bare, "thanks assistant", mtype="groupchat")
    assert (await in_room.answer()).text == "alice: Seen: alice: what did we decide? | alice: thanks"

    # the 1:1 context is separate from the room's
    ask(client, bot.jid.bare, "Private question")
    assert (await direct.answer()).text == "Seen: Private question"

    # the room is bookmarked: a restarted assistant comes back into it
    assert room.bare in bot.rooms
    account = (str(bot.jid.bare), bot.settings.password.get_secret_value())
    await bot.stop()
    restarted = await start_assistant(account)
    assert room.bare in restarted.rooms
    del alice


async def test_images_are_uploaded_and_shown_inline(start_assistant, fake_openai, raw_client,
                                                    make_account, ejabberd):
    bot = await start_assistant()
    _alice, client, listener = await person(raw_client, make_account, ejabberd, bot, "alice")
    ask(client, bot.jid.bare, "Draw a lighthouse at dusk")
    message = await asyncio.wait_for(listener.queue.get(), 15)
    while not message["body"]:
        message = await asyncio.wait_for(listener.queue.get(), 15)
    url = message["body"]
    assert message["oob"]["url"] == url  # XEP-0066: clients show it inline
    image = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    request = fake_openai.requests_to("/v1/images/generations")[-1].json
    assert request["prompt"] == "a lighthouse at dusk"  # keyword removed, no context
    assert not fake_openai.requests_to("/v1/chat/completions")


async def test_budget_provider_failures_and_presence(start_assistant, fake_openai, raw_client,
                                                     make_account, ejabberd):
    bot = await start_assistant(daily_token_budget=20)
    _alice, client, listener = await person(raw_client, make_account, ejabberd, bot, "alice")
    presences: asyncio.Queue = asyncio.Queue()
    client.add_event_handler("presence", lambda p: p["from"].bare == bot.jid.bare
                             and presences.put_nowait(p))

    # the provider is down: a clear reply, presence says so, the question stays in the context
    await fake_openai.stop_listening()
    ask(client, bot.jid.bare, "Are you there?")
    assert "cannot reach the provider" in (await listener.answer()).text
    while (presence := await asyncio.wait_for(presences.get(), 10))["status"] != "provider unreachable":
        pass
    assert presence["show"] == "away"
    assert await bot.memory.count(user_context(_alice.jid.bare)) == 1
    await fake_openai.start_listening()

    # rate limited once: the retry (honouring Retry-After) answers, presence is ready again
    fake_openai.fail_next(429, retry_after=0.1)
    ask(client, bot.jid.bare, "Now?")
    assert (await listener.answer()).text == "You said: Now?"
    while (await asyncio.wait_for(presences.get(), 10))["status"] != "ready":
        pass

    # the budget of 20 tokens is used up by the one answer it got
    ask(client, bot.jid.bare, "One more")
    assert "daily budget of 20 tokens is used up" in await listener.text()
    ask(client, bot.jid.bare, "/usage")
    assert "of your 20 tokens" in await listener.text()


async def test_wrong_key_and_missing_key_are_explained(start_assistant, fake_openai, raw_client,
                                                       make_account, ejabberd):
    bot = await start_assistant(api_key="sk-wrong")
    _alice, client, listener = await person(raw_client, make_account, ejabberd, bot, "alice")
    ask(client, bot.jid.bare, "Hello?")
    assert "refused my API key" in (await listener.answer()).text
    assert bot.state == "provider refused the API key"

    unconfigured = await start_assistant(api_key=None)
    assert unconfigured.state == "not configured: no API key"
    _bob, bob_client, bob_hears = await person(raw_client, make_account, ejabberd, unconfigured, "bob")
    ask(bob_client, unconfigured.jid.bare, "Hello?")
    assert "not configured: no API key" in await bob_hears.text()


async def test_unauthorised_users_get_one_polite_refusal(start_assistant, raw_client, make_account,
                                                         ejabberd):
    bot = await start_assistant(allowed="nobody@elsewhere.example")
    _mallory, client, listener = await person(raw_client, make_account, ejabberd, bot, "mallory")
    ask(client, bot.jid.bare, "Let me in")
    assert "Sorry" in await listener.text()
    ask(client, bot.jid.bare, "Please?")
    ask(client, bot.jid.bare, "/help")
    with pytest.raises(asyncio.TimeoutError):
        await listener.text(timeout=1.5)  # once per hour, not once per message


async def test_azure_openai_deployment_url(start_assistant, fake_openai, raw_client, make_account,
                                           ejabberd):
    fake_openai.deployments = {"chat-prod"}
    bot = await start_assistant(provider="azure", resource_uri=fake_openai.azure_endpoint,
                                model="chat-prod", api_version="2024-10-21", base_url=None)
    _alice, client, listener = await person(raw_client, make_account, ejabberd, bot, "alice")
    ask(client, bot.jid.bare, "Hi Azure")
    assert (await listener.answer()).text == "You said: Hi Azure"
    request = fake_openai.requests[-1]
    assert (request.deployment, request.api_version) == ("chat-prod", "2024-10-21")
    assert request.headers.get("api-key") == KEY


async def test_log_never_contains_message_content(start_assistant, fake_openai, raw_client,
                                                  make_account, ejabberd, tmp_path):
    log_file = tmp_path / "assistant.log"
    setup_logging("DEBUG", log_file)
    try:
        bot = await start_assistant()
        _alice, client, listener = await person(raw_client, make_account, ejabberd, bot, "alice")
        ask(client, bot.jid.bare, "Confidential merger with Zanzibar Holdings")
        assert "Zanzibar" in (await listener.answer()).text
    finally:
        logging.getLogger().handlers.clear()
    text = log_file.read_text()
    assert "answered user:" in text  # the answer was logged ...
    assert "Zanzibar" not in text and "merger" not in text  # ... without its content
    assert KEY not in text


async def _check(env_overrides: dict[str, str]) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "SWITCHBOARD_ASSISTANT_"))}
    env.update(env_overrides)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge_bot", "--check", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_check_command_validates_and_reaches_the_provider(fake_openai):
    code, out = await _check({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_openai.base_url})
    assert code == 0, out
    assert "reachable" in out
    code, out = await _check({"OPENAI_API_KEY": "sk-wrong", "OPENAI_BASE_URL": fake_openai.base_url})
    assert code == 1 and "refused my API key" in out
    code, out = await _check({})
    assert code == 1 and "no API key" in out and "OPENAI_API_KEY" in out
    assert "Traceback" not in out


async def test_profile_mediated_invites_room_images_and_other_bots(start_assistant, fake_openai,
                                                                   raw_client, make_account, ejabberd):
    bot = await start_assistant()
    _alice, client, _direct = await person(raw_client, make_account, ejabberd, bot, "alice")
    client.register_plugin("xep_0054")

    # display name and avatar, published like a person's client does
    await asyncio.wait_for(bot.profile_published.wait(), 10)
    vcard = await client.plugin["xep_0054"].get_vcard(bot.jid.bare, timeout=5)
    assert vcard["vcard_temp"]["FN"] == "assistant"
    metadata = await client.plugin["xep_0060"].get_items(
        bot.jid.bare, "urn:xmpp:avatar:metadata", timeout=5)
    assert metadata["pubsub"]["items"]
    nick = await client.plugin["xep_0060"].get_items(
        bot.jid.bare, "http://jabber.org/protocol/nick", timeout=5)  # XEP-0172, before the event
    assert [item["payload"].text for item in nick["pubsub"]["items"]] == ["assistant"]

    # a mediated invitation (through the room) brings it in too
    room = JID(f"lab-{uuid.uuid4().hex[:6]}@conference.{ejabberd.settings.domain}")
    muc = client.plugin["xep_0045"]
    await muc.join_muc_wait(room, "alice", timeout=10)
    await muc.set_room_config(room, await muc.get_room_config(room), timeout=10)
    joined: asyncio.Future = asyncio.get_running_loop().create_future()
    client.add_event_handler(f"muc::{room.bare}::got_online",
                             lambda p: p["muc"]["nick"] == "assistant" and not joined.done()
                             and joined.set_result(True))
    muc.invite(room, bot.jid.bare, reason="we need you")
    await asyncio.wait_for(joined, 15)
    in_room = Listener(client, f"{room.bare}/assistant")

    # images work in rooms: tag, then the image keyword
    ask(client, room.bare, "@assistant paint a blue door", mtype="groupchat")
    url = await in_room.text()
    assert url.startswith("http") and "/upload/" in url
    assert fake_openai.requests_to("/v1/images/generations")[-1].json["prompt"] == "a blue door"

    # another bot in the room that tags the assistant gets no answer
    other = await start_assistant(nickname="helper")
    await other.join_room(room, bookmark=False)
    other.stream.send_message(mto=room.bare, mbody="@assistant are you a bot too?", mtype="groupchat")
    with pytest.raises(asyncio.TimeoutError):
        await in_room.text(timeout=2)


async def test_provider_errors_become_short_replies(start_assistant, fake_openai, raw_client,
                                                   make_account, ejabberd):
    bot = await start_assistant(max_retries=0)
    _alice, client, listener = await person(raw_client, make_account, ejabberd, bot, "alice")
    fake_openai.fail_next(503)
    ask(client, bot.jid.bare, "Hello?")
    assert "provider has a problem (HTTP 503)" in (await listener.answer()).text
    fake_openai.fail_next(404)
    ask(client, bot.jid.bare, "Hello again?")
    assert "does not exist at the provider" in (await listener.answer()).text
    assert bot.state == "model gpt-4o-mini not found"
    fake_openai.first_token_delay = 3.0
    slow = await start_assistant(request_timeout=0.5, max_retries=0)
    _bob, bob_client, bob_hears = await person(raw_client, make_account, ejabberd, slow, "bob")
    ask(bob_client, slow.jid.bare, "Quick?")
    assert "did not answer in time" in (await bob_hears.answer()).text


async def test_reconnects_after_ejabberd_restart_and_rejoins_rooms(fake_openai, tmp_path):
    from tests.clients import RawClient
    from xmpp_components.stack.ejabberd import EjabberdServer
    from xmpp_components.stack.settings import private_settings

    settings = private_settings(tmp_path / "stack")
    server = EjabberdServer(settings)
    server.start()
    database = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    await upgrade_async(database)
    engine = create_engine(database)
    server.register("assistant", "pw")
    server.register("alice", "pw")
    server.ensure_group("team", "Team", ["assistant", "alice"])
    bot_settings = AssistantSettings(
        jid=f"assistant@{settings.domain}", password="pw", server=settings.bind_ip,
        port=settings.c2s_port, ca_file=str(settings.ca_file), api_key=KEY,
        base_url=fake_openai.base_url, database_url=database)
    bot = AssistantBot(bot_settings, Memory(engine, 6000, 0))
    alice = RawClient(f"alice@{settings.domain}/test", "pw", settings, plugins=("xep_0045",))
    try:
        await bot.start()
        room = JID(f"ops@conference.{settings.domain}")
        await alice.start()  # alice creates the (persistent) room, the assistant joins it
        muc = alice.plugin["xep_0045"]
        await muc.join_muc_wait(room, "alice", timeout=10)
        await muc.set_room_config(room, await muc.get_room_config(room), timeout=10)
        await bot.join_room(room)
        await alice.stop()
        server.stop()
        bot.ready.clear()
        await asyncio.to_thread(server.start)
        await asyncio.wait_for(bot.ready.wait(), 30)  # reconnected by itself, rejoined the room
        alice = RawClient(f"alice@{settings.domain}/again", "pw", settings, plugins=("xep_0045",))
        await alice.start()
        joined: asyncio.Future = asyncio.get_running_loop().create_future()
        alice.add_event_handler(f"muc::{room.bare}::got_online",
                                lambda p: p["muc"]["nick"] == "assistant" and not joined.done()
                                and joined.set_result(True))
        await alice.plugin["xep_0045"].join_muc_wait(room, "alice", timeout=10)
        await asyncio.wait_for(joined, 10)  # the assistant is in the room's occupant list
        in_room = Listener(alice, f"{room.bare}/assistant")
        ask(alice, room.bare, "assistant: still here?", mtype="groupchat")
        assert (await in_room.answer()).text == "alice: You said: alice: still here?"
    finally:
        await alice.stop()
        await bot.stop()
        await engine.dispose()
        server.stop()
