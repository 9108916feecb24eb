"""The component base on the real ejabberd: connect, disco, commands, bad input, reconnect, shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator

import pytest
from slixmpp import Iq
from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET

from xmpp_components.base import Command, Field, Result, setup_logging
from xmpp_components.base.main import status_command
from xmpp_components.calls import CallsComponent
from xmpp_components.journal import JournalComponent
from xmpp_components.journal.component import JOURNAL_NS
from xmpp_components.stack.ejabberd import EjabberdServer
from xmpp_components.stack.settings import private_settings


async def started(component: JournalComponent | CallsComponent) -> None:
    """Wait until the component's next session starts."""
    ready = asyncio.get_running_loop().create_future()
    component.add_event_handler("session_start", lambda _e: ready.done() or ready.set_result(True))
    await asyncio.wait_for(ready, 15)


@pytest.fixture
async def journal(ejabberd: EjabberdServer, database_url: str) -> AsyncIterator[JournalComponent]:
    component = JournalComponent(ejabberd.settings)
    component.commands.publish(status_command(component))
    waiting = asyncio.ensure_future(started(component))
    component.start()
    await waiting
    yield component
    await component.stop()


async def test_journal_and_calls_answer_disco(journal, ejabberd, make_account, raw_client):
    calls = CallsComponent(ejabberd.settings)
    waiting = asyncio.ensure_future(started(calls))
    calls.start()
    await waiting
    client = await raw_client(make_account("disco"))
    try:
        info = await client.plugin["xep_0030"].get_info(jid=journal.boundjid.bare, timeout=5)
        identities = info["disco_info"]["identities"]
        assert ("component", "generic", None, "Switchboard journal") in identities
        assert JOURNAL_NS in info["disco_info"]["features"]
        assert "http://jabber.org/protocol/commands" in info["disco_info"]["features"]
        info = await client.plugin["xep_0030"].get_info(jid=calls.boundjid.bare, timeout=5)
        assert ("component", "generic", None, "Switchboard call control") in info["disco_info"]["identities"]
        # the server lists both components among its items
        items = await client.plugin["xep_0030"].get_items(jid=ejabberd.settings.domain, timeout=5)
        listed = {str(item[0]) for item in items["disco_items"]["items"]}
        assert {journal.boundjid.bare, calls.boundjid.bare} <= listed
    finally:
        await calls.stop()


async def test_privileges_are_granted(ejabberd):
    component = JournalComponent(ejabberd.settings)
    advertised = asyncio.get_running_loop().create_future()
    component.add_event_handler("privileges_advertised",
                                lambda _e: advertised.done() or advertised.set_result(True))
    component.start()
    try:
        await asyncio.wait_for(advertised, 10)
        granted = component.plugin["xep_0356"].granted_privileges[ejabberd.settings.domain]
        assert granted.roster == "both"
        assert granted.message == "outgoing"
        assert granted.presence == "roster"
    finally:
        await component.stop()


async def send_raw_iq(client, to: str, iq_type: str, payloads: list[ET.Element]) -> Iq:
    iq = client.Iq(stype=iq_type, sto=to)
    for payload in payloads:
        iq.append(payload)
    try:
        await iq.send(timeout=5)
    except IqError as err:
        return err.iq
    raise AssertionError("expected an error answer")


async def test_malformed_stanzas_get_errors_and_component_survives(journal, make_account, raw_client):
    client = await raw_client(make_account("bad"))
    to = journal.boundjid.bare

    empty = await send_raw_iq(client, to, "get", [])
    assert empty["error"]["condition"] == "bad-request"
    assert "exactly one payload" in empty["error"]["text"]

    two = await send_raw_iq(client, to, "set", [ET.Element("{urn:a}x"), ET.Element("{urn:b}y")])
    assert two["error"]["condition"] == "bad-request"
    assert "has 2" in two["error"]["text"]

    unknown = await send_raw_iq(client, to, "get", [ET.Element("{urn:nobody:knows}query")])
    assert unknown["error"]["condition"] in ("service-unavailable", "feature-not-implemented")

    bogus_command = ET.Element("{http://jabber.org/protocol/commands}command",
                               {"node": "no-such-command", "action": "execute"})
    missing = await send_raw_iq(client, to, "set", [bogus_command])
    assert missing["error"]["condition"] == "item-not-found"

    # still alive and answering
    info = await client.plugin["xep_0030"].get_info(jid=to, timeout=5)
    assert JOURNAL_NS in info["disco_info"]["features"]


async def test_status_command_from_any_client(journal, make_account, raw_client):
    client = await raw_client(make_account("adhoc"))
    items = await client.plugin["xep_0050"].get_commands(jid=journal.boundjid.bare, timeout=5)
    nodes = {item[1] for item in items["disco_items"]["items"]}
    assert "status" in nodes
    result = await client.plugin["xep_0050"].send_command(journal.boundjid.bare, "status", timeout=5)
    assert result["command"]["status"] == "completed"
    values = result["command"]["form"].get_values()
    assert values["version"].startswith("Switchboard ")
    assert values["connected"] != "no"


async def test_command_form_validation_names_the_field(journal, make_account, raw_client):
    seen: list[dict[str, object]] = []

    async def greet(requester, values):
        seen.append(values)
        return Result(note=f"hello {values['name']}", values={"echo": values["name"]})

    journal.commands.publish(Command(
        node="greet", name="Greet", handler=greet,
        fields=(Field("name", "Your name", required=True),
                Field("loud", "Shout", type="boolean", default="false"))))
    client = await raw_client(make_account("form"))
    adhoc = client.plugin["xep_0050"]
    first = await adhoc.send_command(journal.boundjid.bare, "greet", timeout=5)
    assert first["command"]["status"] == "executing"
    assert list(first["command"]["form"].get_fields()) == ["name", "loud"]
    session = first["command"]["sessionid"]

    form = client.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="name", value="")
    with pytest.raises(IqError) as err:
        await adhoc.send_command(journal.boundjid.bare, "greet", sessionid=session,
                                 payload=form, action="complete", timeout=5)
    assert err.value.iq["error"]["condition"] == "bad-request"
    assert "Your name" in err.value.iq["error"]["text"]
    assert seen == []

    again = await adhoc.send_command(journal.boundjid.bare, "greet", timeout=5)
    form = client.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="name", value="Alice")
    done = await adhoc.send_command(journal.boundjid.bare, "greet",
                                    sessionid=again["command"]["sessionid"], payload=form,
                                    action="complete", timeout=5)
    assert done["command"]["status"] == "completed"
    assert done["command"]["form"].get_values()["echo"] == "Alice"
    assert seen == [{"name": "Alice", "loud": "false"}]


async def test_component_reconnects_after_ejabberd_restart(tmp_path):
    settings = private_settings(tmp_path)
    server = EjabberdServer(settings)
    server.start()
    component = JournalComponent(settings)
    try:
        first = asyncio.ensure_future(started(component))
        component.start()
        await first
        server.stop()
        second = asyncio.ensure_future(started(component))
        await asyncio.to_thread(server.start)
        await asyncio.wait_for(second, 20)
        assert component.sessions_started == 2
    finally:
        await component.stop()
        server.stop()
    assert server.pid() is None


async def test_component_process_stops_on_sigterm(ejabberd, make_account, raw_client):
    env = dict(os.environ, **ejabberd.settings.component_env())
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "xmpp_components.journal", env=env, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    try:
        async def logged(text: str) -> str:
            async for raw in proc.stderr:  # the component logs to stderr without --log-file
                if text in (line := raw.decode()):
                    return line
            raise AssertionError(f"component exited before logging {text!r}")

        await asyncio.wait_for(logged("connected to"), 30)
        client = await raw_client(make_account("sig"))
        info = await client.plugin["xep_0030"].get_info(jid=f"journal.{ejabberd.settings.domain}", timeout=5)
        assert info["disco_info"]["identities"]
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(logged("stopping"), 10)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_logs_never_contain_bodies(ejabberd, make_account, raw_client, tmp_path):
    log_file = tmp_path / "debug.log"
    setup_logging("DEBUG", log_file)
    component = JournalComponent(ejabberd.settings)
    got = asyncio.get_running_loop().create_future()
    component.add_event_handler("message", lambda m: got.done() or got.set_result(m["body"]))
    waiting = asyncio.ensure_future(started(component))
    component.start()
    try:
        await waiting
        client = await raw_client(make_account("log"))
        client.send_message(mto=component.boundjid.bare, mbody="Zebra quarterly sales figures")
        assert await asyncio.wait_for(got, 5) == "Zebra quarterly sales figures"
    finally:
        await component.stop()
        logging.getLogger().handlers.clear()
    text = log_file.read_text()
    assert "RECV" in text  # stanzas were logged ...
    assert "Zebra" not in text and "sales figures" not in text  # ... without their content
    secret = ejabberd.settings.component_secret("journal")
    assert secret not in text


async def test_privileged_roster_read_and_message_as_user(journal, pair, raw_client):
    """XEP-0356: the component reads a user's roster and sends a message in her name."""
    alice, bob = pair
    await asyncio.wait_for(journal.privileged.wait(), 10)
    roster = await journal.plugin["xep_0356"].get_roster(alice.jid.bare, timeout=5)
    assert bob.jid.bare in {str(jid) for jid in roster["roster"]["items"]}

    peer = await raw_client(bob)
    message = journal.make_message(mto=bob.jid.bare, mbody="sent by the component as alice",
                                   mtype="chat", mfrom=alice.jid.bare)
    journal.plugin["xep_0356"].send_privileged_message(message)
    received = await asyncio.wait_for(peer.inbox.get(), 10)
    assert received["from"].bare == alice.jid.bare
    assert received["body"] == "sent by the component as alice"
