"""The journal component on the real ejabberd: entries from chats, rooms and calls; notes, views,
permissions, export, pushes, catch-up after downtime. Users are bare slixmpp clients or
go-sendxmpp (clients we did not write)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator

import pytest
from slixmpp import JID
from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from schema import JournalEntry, create_engine
from schema.migrate import upgrade_async
from xmpp_components.journal import JournalComponent
from xmpp_components.journal.archive import MEDIA_CONTENT, ArchivedStanza, CallSignal
from xmpp_components.journal.protocol import NS, RSM
from xmpp_components.journal.rooms import room_presences
from xmpp_components.journal.store import JournalStore

from .conftest import started

JMI = "urn:xmpp:jingle-message:0"
RTP = "urn:xmpp:jingle:apps:rtp:1"


@pytest.fixture
async def journal(ejabberd, database_url) -> AsyncIterator[JournalComponent]:
    component = JournalComponent(ejabberd.settings)
    await started(component)
    await asyncio.wait_for(component.catch_up(), 30)
    yield component
    await component.stop()


async def settled(journal: JournalComponent) -> None:
    """Until the journal has applied everything ejabberd archived so far."""
    await journal.catch_up()


async def query(client, journal: JournalComponent, **attrs: str) -> tuple[list[ET.Element], ET.Element]:
    iq = client.Iq(stype="get", sto=journal.boundjid.bare)
    element = ET.Element(f"{{{NS}}}query", {k: v for k, v in attrs.items() if k not in ("max", "after")})
    if "max" in attrs or "after" in attrs:
        rsm = ET.SubElement(element, f"{{{RSM}}}set")
        if "max" in attrs:
            ET.SubElement(rsm, f"{{{RSM}}}max").text = attrs["max"]
        if "after" in attrs:
            ET.SubElement(rsm, f"{{{RSM}}}after").text = attrs["after"]
    iq.append(element)
    result = await iq.send(timeout=10)
    payload = result.xml.find(f"{{{NS}}}query")
    return payload.findall(f"{{{NS}}}entry"), payload.find(f"{{{RSM}}}set")


async def send_iq(client, to: str, element: ET.Element, itype: str = "set"):
    iq = client.Iq(stype=itype, sto=to)
    iq.append(element)
    return await iq.send(timeout=10)


def jmi(sender, to: str, action: str, session: str, *media: str, screen: bool = False) -> None:
    """Send a Jingle Message Initiation step (XEP-0353) with ``<store/>``, so MAM keeps it;
    ``screen`` marks the proposed video as a shared screen (RFC 4796 ``slides``)."""
    message = sender.make_message(mto=to, mtype="chat")
    step = ET.SubElement(message.xml, f"{{{JMI}}}{action}", {"id": session})
    for medium in media:
        description = ET.SubElement(step, f"{{{RTP}}}description", {"media": medium})
        if screen and medium == "video":
            ET.SubElement(description, f"{{{MEDIA_CONTENT}}}content", {"value": "slides"})
    ET.SubElement(message.xml, "{urn:xmpp:hints}store")
    message.send()


async def open_room(owner, domain: str, nick: str) -> JID:
    """A new room that ``owner`` (a client with XEP-0045) created, configured and is in."""
    room = JID(f"room-{uuid.uuid4().hex[:6]}@conference.{domain}")
    await owner.plugin["xep_0045"].join_muc_wait(room, nick, timeout=10)
    await owner.plugin["xep_0045"].set_room_config(
        room, await owner.plugin["xep_0045"].get_room_config(room), timeout=10)
    return room


async def say(sender, room: JID, body: str, *listeners) -> None:
    """``sender`` says ``body`` in ``room``; returns once every one of ``listeners`` heard it."""
    heard: list[tuple[object, asyncio.Queue]] = [(listener, asyncio.Queue()) for listener in listeners]
    for listener, queue in heard:
        listener.add_event_handler("groupchat_message", queue.put_nowait)
    sender.send_message(mto=room, mbody=body, mtype="groupchat")
    for listener, queue in heard:
        while (await asyncio.wait_for(queue.get(), 10))["body"] != body:
            pass
        listener.del_event_handler("groupchat_message", queue.put_nowait)


async def leave(client, room: JID, nick: str, witness) -> None:
    """``client`` leaves ``room``; returns once ``witness``, still there, saw it go."""
    gone: asyncio.Queue = asyncio.Queue()
    witness.add_event_handler(f"muc::{room.bare}::got_offline", gone.put_nowait)
    client.plugin["xep_0045"].leave_muc(room, nick)
    while (await asyncio.wait_for(gone.get(), 10))["from"].resource != nick:
        pass
    witness.del_event_handler(f"muc::{room.bare}::got_offline", gone.put_nowait)


async def exchange(sender, receiver, body: str) -> None:
    sender.send_message(mto=receiver.boundjid.bare, mbody=body, mtype="chat")
    assert (await asyncio.wait_for(receiver.inbox.get(), 10))["body"] == body


async def test_chat_appears_in_both_journals_as_one_conversation(journal, pair, raw_client):
    alice, bob = pair
    a = await raw_client(alice)
    b = await raw_client(bob)
    await exchange(a, b, "Hi Bob, about the offer")
    await exchange(b, a, "Yes?")
    await exchange(a, b, "Can we talk at 3?")
    await settled(journal)

    mine, rsm = await query(a, journal)
    assert len(mine) == 1 and rsm.findtext(f"{{{RSM}}}count") == "1"
    entry = mine[0]
    assert (entry.get("kind"), entry.get("direction"), entry.get("peer")) == (
        "chat", "out", bob.jid.bare)
    assert (entry.get("out"), entry.get("in")) == ("2", "1")
    assert entry.findtext(f"{{{NS}}}preview") == "Can we talk at 3?"
    theirs, _ = await query(b, journal)
    assert [(e.get("direction"), e.get("peer"), e.get("in"), e.get("out")) for e in theirs] == [
        ("in", alice.jid.bare, "2", "1")]


async def test_room_calls_and_planned_calls(journal, ejabberd, pair, raw_client, session_for):
    alice, bob = pair
    a = await raw_client(alice, plugins=("xep_0045",))
    b = await raw_client(bob, plugins=("xep_0045",))
    room = await open_room(a, ejabberd.settings.domain, "alice")
    await b.plugin["xep_0045"].join_muc_wait(room, "bob", timeout=10)
    # alice opens the conversation, bob answers; the room archives a message before sending it
    # out, so what alice hears is archived
    await say(a, room, "Agenda for Monday?", a)
    await say(b, room, "Budget first", a)
    signals: asyncio.Queue = asyncio.Queue()
    b.register_handler(Callback("jmi", MatchXPath(f"{{jabber:client}}message/{{{JMI}}}*"),
                                signals.put_nowait))

    # a missed audio call: proposed, then retracted (XEP-0353 with <store/> so MAM keeps it)
    missed = uuid.uuid4().hex
    jmi(a, bob.jid.bare, "propose", missed, "audio")
    jmi(a, bob.jid.bare, "retract", missed)
    answered = uuid.uuid4().hex
    jmi(a, bob.jid.bare, "propose", answered, "video")
    jmi(a, bob.jid.bare, "proceed", answered)
    jmi(a, bob.jid.bare, "finish", answered)

    # a planned call and a phone call, written by the call switch through the store's function
    # on the shared database (its documented write interface); writing twice changes nothing
    switch = JournalStore(create_engine(ejabberd.settings.effective_database_url),
                          ejabberd.settings.domain)
    for _ in range(2):
        await switch.record(alice.jid.bare, "planned", "out", "+49301234567", "planned",
                            dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC), source=f"plan:{missed}",
                            reminder_at=dt.datetime(2026, 12, 1, 8, 45, tzinfo=dt.UTC),
                            preview="Call back about the contract")
        await switch.record(alice.jid.bare, "call", "in", "+4930555", "answered",
                            dt.datetime.now(dt.UTC), duration_s=95, line="1001",
                            source=f"call:{missed}")
    with pytest.raises(ValueError):
        await switch.record(alice.jid.bare, "fax", "in", "+4930555", "answered", dt.datetime.now(dt.UTC))
    await switch.engine.dispose()

    # bob received all five call signals, so both archives hold them
    for _ in range(5):
        await asyncio.wait_for(signals.get(), 10)
    await settled(journal)
    entries, _ = await query(a, journal, period="all")
    by_kind = {e.get("kind"): e for e in entries}
    assert by_kind["groupchat"].get("peer") == room.bare
    assert (by_kind["groupchat"].get("out"), by_kind["groupchat"].get("in")) == ("1", "1")
    assert (by_kind["audio"].get("result"), by_kind["audio"].get("direction")) == ("missed", "out")
    assert by_kind["video"].get("result") == "answered"
    assert (by_kind["planned"].get("peer"), by_kind["planned"].findtext(f"{{{NS}}}preview")) == (
        "+49301234567", "Call back about the contract")
    assert (by_kind["call"].get("duration"), by_kind["call"].get("line")) == ("95", "1001")
    assert [e.get("kind") for e in entries].count("call") == 1
    bobs, _ = await query(b, journal, period="all", kind="audio", result="missed")
    assert [(e.get("direction"), e.get("peer")) for e in bobs] == [("in", alice.jid.bare)]

    # our client's "Missed" filter: the calls I missed; alice's own unanswered call is not one
    for account, expected in ((alice, []), (bob, [("audio", "in", alice.jid.bare)])):
        session, watch = await session_for(account)
        await watch.until(lambda s=session: s.state == "online", what="online")
        rows, _ = await session.journal.query(period="all", missed=True)
        assert [(r.kind, r.direction, r.peer) for r in rows] == expected


async def test_room_entries_reach_everyone_in_the_room(ejabberd, database_url, make_account, raw_client):
    alice, bob, carol, dave = (make_account(name) for name in ("alice", "bob", "carol", "dave"))
    a, b, c, d = [await raw_client(user, plugins=("xep_0045",)) for user in (alice, bob, carol, dave)]
    first, second = JournalComponent(ejabberd.settings), JournalComponent(ejabberd.settings)

    async def rooms(client, journal: JournalComponent) -> list[tuple[str | None, ...]]:
        entries, _ = await query(client, journal, period="all", kind="groupchat")
        return [(e.get("peer"), e.get("direction"), e.get("in"), e.get("out")) for e in entries]

    try:
        await started(first)
        await first.catch_up()
        room = await open_room(a, ejabberd.settings.domain, "alice")
        for client, nick in ((b, "bob"), (c, "carol"), (d, "dave")):
            await client.plugin["xep_0045"].join_muc_wait(room, nick, timeout=10)
        await leave(d, room, "dave", a)  # dave was there, but not while anyone spoke
        await say(a, room, "Agenda for Monday?", c)
        await say(b, room, "Budget first", c)  # carol only listens
        await first.catch_up()
        assert await rooms(c, first) == [(room.bare, "in", "2", "0")]
        assert await rooms(b, first) == [(room.bare, "in", "1", "1")]
        assert await rooms(d, first) == []

        # while the journal is down carol stays in the room: catching up, the message is hers too
        await first.stop()
        await say(a, room, "Minutes follow", c)
        await started(second)
        await second.catch_up()
        await leave(c, room, "carol", a)
        await say(a, room, "Said after carol left", b)
        await second.catch_up()
        assert await rooms(c, second) == [(room.bare, "in", "3", "0")]
        assert await rooms(b, second) == [(room.bare, "in", "3", "1")]
    finally:
        await first.stop()
        await second.stop()


ROOM_STANZAS = {  # as ejabberd 24.12 sends them to local users (and so in service-log copies)
    "self-presence": """<presence xmlns="jabber:client" to="carol@localhost/pc"
        from="r@conference.localhost/carol"><x xmlns="http://jabber.org/protocol/muc#user">
        <item jid="carol@localhost/pc" role="participant"/><status code="110"/></x></presence>""",
    "nick change": """<presence xmlns="jabber:client" type="unavailable" to="carol@localhost/pc"
        from="r@conference.localhost/carol"><x xmlns="http://jabber.org/protocol/muc#user">
        <item nick="caro"/><status code="303"/><status code="110"/></x></presence>""",
    "other left, jid hidden": """<presence xmlns="jabber:client" type="unavailable" to="carol@localhost/pc"
        from="r@conference.localhost/bob"><x xmlns="http://jabber.org/protocol/muc#user">
        <item role="none"/></x></presence>""",
    "session dropped": """<presence xmlns="jabber:component:accept" type="unavailable" to="journal.localhost"
        from="r@conference.localhost/bob"><x xmlns="http://jabber.org/protocol/muc#user">
        <item jid="bob@localhost/phone" role="none"/></x></presence>""",
    "room message": """<message xmlns="jabber:client" type="groupchat" to="carol@localhost/pc"
        from="r@conference.localhost/alice"><body>hi</body></message>""",
    "join refused": """<presence xmlns="jabber:client" type="error" to="carol@localhost/pc"
        from="r@conference.localhost/carol"><error type="cancel"/></presence>""",
    "other arrived": """<presence xmlns="jabber:client" to="carol@localhost/pc"
        from="r@conference.localhost/dave"><x xmlns="http://jabber.org/protocol/muc#user">
        <item jid="dave@localhost/x"/></x></presence>""",
    "remote occupant left": """<presence xmlns="jabber:client" type="unavailable" to="carol@localhost/pc"
        from="r@conference.localhost/eve"><x xmlns="http://jabber.org/protocol/muc#user">
        <item jid="eve@example.org/x"/></x></presence>""",
    "chat": """<message xmlns="jabber:client" type="chat" to="carol@localhost/pc" from="bob@localhost/phone">
        <body>hi</body></message>""",
}


def test_room_presences_from_stanzas():
    def seen(name: str) -> list[tuple[str, str, str | None, bool]]:
        return [(p.room, p.occupant, p.nick, p.present)
                for p in room_presences(ET.fromstring(ROOM_STANZAS[name]), "localhost")]

    room = "r@conference.localhost"
    assert seen("self-presence") == [(room, "carol@localhost/pc", "carol", True)]
    assert seen("nick change") == []  # the new nick's self-presence follows at once
    assert seen("other left, jid hidden") == [(room, "", "bob", False)]
    assert seen("session dropped") == [(room, "bob@localhost/phone", "bob", False)]
    assert seen("room message") == [(room, "carol@localhost/pc", None, True)]
    assert seen("join refused") == [(room, "carol@localhost/pc", None, False)]
    assert seen("remote occupant left") == [(room, "", "eve", False)]  # no local user has that nick
    assert seen("other arrived") == seen("chat") == []  # dave's own copies say when he came


async def test_a_screen_share_is_its_own_type(journal, pair, raw_client):
    alice, bob = pair
    a = await raw_client(alice)
    b = await raw_client(bob)
    signals: asyncio.Queue = asyncio.Queue()
    b.register_handler(Callback("jmi", MatchXPath(f"{{jabber:client}}message/{{{JMI}}}*"),
                                signals.put_nowait))
    shared, camera = uuid.uuid4().hex, uuid.uuid4().hex
    jmi(a, bob.jid.bare, "propose", shared, "audio", "video", screen=True)
    jmi(a, bob.jid.bare, "proceed", shared)
    jmi(a, bob.jid.bare, "finish", shared)
    jmi(a, bob.jid.bare, "propose", camera, "audio", "video")  # a video chat, for contrast
    jmi(a, bob.jid.bare, "retract", camera)
    for _ in range(5):
        await asyncio.wait_for(signals.get(), 10)
    await settled(journal)

    screens, _ = await query(a, journal, period="all", kind="screen")
    assert [(e.get("direction"), e.get("peer"), e.get("result")) for e in screens] == [
        ("out", bob.jid.bare, "answered")]
    videos, _ = await query(a, journal, period="all", kind="video")
    assert [e.get("result") for e in videos] == ["missed"]
    theirs, _ = await query(b, journal, period="all", kind="screen")
    assert [(e.get("direction"), e.get("peer")) for e in theirs] == [("in", alice.jid.bare)]


async def test_notes_filters_paging_permissions_export_and_pushes(journal, ejabberd, pair,
                                                                  raw_client, make_account):
    alice, bob = pair
    a = await raw_client(alice)
    b = await raw_client(bob)
    carol_account = make_account("carol")
    c = await raw_client(carol_account)
    ejabberd.ensure_group(f"sales-{uuid.uuid4().hex[:4]}", "Sales", [alice.jid.user])
    await exchange(a, b, "Quarterly numbers for Zanzibar")
    await exchange(a, c, "Lunch?")
    await settled(journal)

    entries, _ = await query(a, journal)
    zanzibar = next(e for e in entries if e.get("peer") == bob.jid.bare)
    note = ET.Element(f"{{{NS}}}note", {"entry": zanzibar.get("id")})
    note.text = "Promised the figures by Friday"
    added = await send_iq(a, journal.boundjid.bare, note)
    note_id = added.xml.find(f"{{{NS}}}note").get("id")

    # filters: free text over previews and notes, contact, direction; paging
    found, _ = await query(a, journal, text="friday")
    assert [e.get("id") for e in found] == [zanzibar.get("id")]
    assert found[0].find(f"{{{NS}}}note").text == "Promised the figures by Friday"
    assert [e.get("peer") for e in (await query(a, journal, peer=carol_account.jid.user))[0]] == [
        carol_account.jid.bare]
    assert (await query(a, journal, direction="in"))[0] == []
    first, rsm = await query(a, journal, max="1")
    assert len(first) == 1 and rsm.findtext(f"{{{RSM}}}count") == "2"
    second, _ = await query(a, journal, max="1", after=rsm.findtext(f"{{{RSM}}}last"))
    assert len(second) == 1 and second[0].get("id") != first[0].get("id")

    # bad input gets a clear answer
    with pytest.raises(IqError) as wrong:
        await query(a, journal, period="fortnight")
    assert wrong.value.iq["error"]["condition"] == "bad-request"
    assert "period must be one of" in wrong.value.iq["error"]["text"]

    # others' journals: forbidden until granted; notes editable by their author only
    with pytest.raises(IqError) as denied:
        await query(b, journal, owner=alice.jid.bare)
    assert denied.value.iq["error"]["condition"] == "forbidden"
    assert "ask an administrator" in denied.value.iq["error"]["text"]
    await journal.store.grant(bob.jid.bare, alice.jid.bare, can_read=True)
    assert len((await query(b, journal, owner=alice.jid.bare))[0]) == 2
    edit = ET.Element(f"{{{NS}}}note", {"id": note_id})
    edit.text = "changed by bob"
    with pytest.raises(IqError) as not_author:
        await send_iq(b, journal.boundjid.bare, edit)
    assert not_author.value.iq["error"]["condition"] == "forbidden"

    # export: CSV through HTTP upload, readable by any client
    export = ET.Element(f"{{{NS}}}export", {"format": "csv", "period": "today"})
    answer = await send_iq(a, journal.boundjid.bare, export, itype="get")
    url = answer.xml.find(f"{{{NS}}}export").get("url")
    content = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
    table = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert {row["peer"] for row in table} == {bob.jid.bare, carol_account.jid.bare}
    assert any("Promised the figures" in row["notes"] for row in table)

    # pushes: a subscribed client hears about new entries at once
    pushes: asyncio.Queue = asyncio.Queue()
    a.register_handler(Callback("journal push", MatchXPath(f"{{jabber:client}}message/{{{NS}}}entries"),
                                pushes.put_nowait))
    await send_iq(a, journal.boundjid.bare, ET.Element(f"{{{NS}}}subscribe"))
    sent_at = dt.datetime.now(dt.UTC)
    await exchange(c, a, "Push me")
    push = await asyncio.wait_for(pushes.get(), 10)
    pushed = push.xml.find(f"{{{NS}}}entries").find(f"{{{NS}}}entry")
    assert pushed.get("peer") == carol_account.jid.bare
    assert pushed.findtext(f"{{{NS}}}preview") == "Push me"
    assert dt.datetime.now(dt.UTC) - sent_at < dt.timedelta(seconds=5)


RECORD_CALL = """
import asyncio, datetime as dt, sys
from schema import create_engine
from xmpp_components.journal.store import JournalStore

async def main() -> None:
    url, domain, owner, source = sys.argv[1:5]
    store = JournalStore(create_engine(url), domain)
    print(await store.record(owner, "call", "in", "+4930555", "missed", dt.datetime.now(dt.UTC),
                             line="1001", source=source))
    await store.engine.dispose()

asyncio.run(main())
"""


async def test_entries_other_processes_write_are_pushed(journal, ejabberd, pair, raw_client):
    alice, _bob = pair
    a = await raw_client(alice)
    pushes: asyncio.Queue = asyncio.Queue()
    a.register_handler(Callback("journal push", MatchXPath(f"{{jabber:client}}message/{{{NS}}}entries"),
                                pushes.put_nowait))
    await send_iq(a, journal.boundjid.bare, ET.Element(f"{{{NS}}}subscribe"))

    # the call switch: another process writing through the store's function on the shared database
    settings = ejabberd.settings
    switch = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RECORD_CALL, settings.effective_database_url, settings.domain,
        alice.jid.bare, f"call:{uuid.uuid4().hex}", stdout=asyncio.subprocess.PIPE)
    written, _ = await asyncio.wait_for(switch.communicate(), 60)
    assert switch.returncode == 0
    pushed = (await asyncio.wait_for(pushes.get(), 10)).xml.find(f"{{{NS}}}entries").find(f"{{{NS}}}entry")
    assert (pushed.get("id"), pushed.get("kind"), pushed.get("result"), pushed.get("line")) == (
        written.decode().strip(), "call", "missed", "1001")

    # a note someone else's store adds (the admin tools, another journal instance) comes too
    elsewhere = JournalStore(create_engine(settings.effective_database_url), settings.domain)
    try:
        await elsewhere.add_note(int(pushed.get("id")), alice.jid.bare, "Call back after lunch")
    finally:
        await elsewhere.engine.dispose()
    pushed = (await asyncio.wait_for(pushes.get(), 10)).xml.find(f"{{{NS}}}entries").find(f"{{{NS}}}entry")
    assert pushed.findtext(f"{{{NS}}}note") == "Call back after lunch"


async def test_foreign_client_uses_the_commands(journal, pair, raw_client):
    alice, bob = pair
    a = await raw_client(alice)
    b = await raw_client(bob)
    await exchange(b, a, "Invoice 4711 is overdue")
    await settled(journal)
    adhoc = a.plugin["xep_0050"]
    listing = await adhoc.send_command(journal.boundjid.bare, "recent", timeout=10)
    items = listing["command"]["form"]["items"]
    assert any(item["peer"] == bob.jid.bare for item in items)
    entry_id = next(i["id"] for i in items if i["peer"] == bob.jid.bare)

    start = await adhoc.send_command(journal.boundjid.bare, "note", timeout=10)
    form = a.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="entry", value=entry_id)
    form.add_field(var="text", value="Reminded accounting")
    done = await adhoc.send_command(journal.boundjid.bare, "note", sessionid=start["command"]["sessionid"],
                                    payload=form, action="complete", timeout=10)
    assert "added to entry" in done["command"]["form"]["instructions"]

    start = await adhoc.send_command(journal.boundjid.bare, "search", timeout=10)
    form = a.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="period", value="today")
    form.add_field(var="text", value="accounting")
    done = await adhoc.send_command(journal.boundjid.bare, "search",
                                    sessionid=start["command"]["sessionid"], payload=form,
                                    action="complete", timeout=10)
    rows = done["command"]["form"]["items"]
    assert [r["id"] for r in rows] == [entry_id]


async def test_no_entry_lost_or_doubled_when_the_component_is_killed(ejabberd, database_url, pair,
                                                                     raw_client):
    alice, bob = pair
    a = await raw_client(alice)
    b = await raw_client(bob)
    first = JournalComponent(ejabberd.settings)
    await started(first)
    await first.catch_up()
    await exchange(a, b, "one")
    await first.catch_up()
    await first.stop()  # down mid-conversation: these are only in ejabberd's archive now
    await exchange(b, a, "two")
    await exchange(a, b, "three")
    second = JournalComponent(ejabberd.settings)
    await started(second)
    try:
        await second.catch_up()
        await second.catch_up()  # applying again changes nothing
        entries, _ = await query(a, second, period="all")
        mine = [e for e in entries if e.get("peer") == bob.jid.bare]
        assert len(mine) == 1
        assert (mine[0].get("out"), mine[0].get("in")) == ("2", "1")
        assert mine[0].findtext(f"{{{NS}}}preview") == "three"
    finally:
        await second.stop()


T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _chat(index: int, owner: str, peer: str, outgoing: bool, body: str, minutes: int,
          call: CallSignal | None = None) -> ArchivedStanza:
    return ArchivedStanza(index, owner, False, peer, "", T0 + dt.timedelta(minutes=minutes), outgoing,
                          body, False, call)


@pytest.fixture
async def fresh_store(tmp_path) -> AsyncIterator[JournalStore]:
    """A journal store on an empty migrated SQLite file of its own."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}"
    await upgrade_async(url)
    store = JournalStore(create_engine(url), "localhost")
    yield store
    await store.engine.dispose()


async def test_a_failed_ingest_is_applied_once_when_retried(fresh_store):
    store = fresh_store
    alice, bob, carol = "alice@localhost", "bob@localhost", "carol@localhost"
    await store.ingest([_chat(1, alice, bob, True, "Offer", 0)], 1)
    # an entry already holds the source the batch's new conversation gets: its write fails
    blocker = await store.record(alice, "planned", "out", "+4930555", "planned", T0, source="archive:3")
    batch = [_chat(2, alice, bob, False, "Zanzibar figures?", 1), _chat(3, alice, carol, True, "Lunch?", 2)]
    with pytest.raises(IntegrityError):
        await store.ingest(batch, 3)
    assert await store.cursor() == 1
    async with store.engine.begin() as connection:
        await connection.execute(update(JournalEntry).where(JournalEntry.id == blocker)
                                 .values(source="plan:1"))
    await store.ingest(batch, 3)

    rows, total = await store.query([alice], newest_first=False, kinds=["chat"])
    assert total == 2
    assert [(r.peer, r.messages_out, r.messages_in) for r in rows] == [(bob, 1, 1), (carol, 1, 0)]
    found, _ = await store.query([alice], search="zanzibar")  # searchable as soon as ingest returns
    assert [r.peer for r in found] == [bob]


async def test_a_call_between_messages_does_not_split_the_conversation_after_a_restart(tmp_path,
                                                                                       fresh_store):
    alice, bob = "alice@localhost", "bob@localhost"
    await fresh_store.ingest([_chat(1, alice, bob, True, "Call you?", 0),
                              _chat(2, alice, bob, True, "", 1, CallSignal("propose", "s1", ("audio",)))], 2)
    restarted = JournalStore(fresh_store.engine, "localhost")  # nothing cached: reads the database
    await restarted.ingest([_chat(3, alice, bob, False, "Missed you", 2)], 3)
    rows, _ = await restarted.query([alice], kinds=["chat"])
    assert [(r.messages_out, r.messages_in, r.preview) for r in rows] == [(1, 1, "Missed you")]


def test_admin_cli_grants_and_reports_bad_input(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, SWITCHBOARD_STATE_DIR=str(tmp_path / "state"))

    def admin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "xmpp_components.journal", "admin", *args],
                              env=env, capture_output=True, text=True, timeout=60)

    granted = admin("grant", "bob@localhost", "group:Sales", "--write")
    assert granted.returncode == 0 and "may read and annotate" in granted.stdout
    listed = admin("list")
    assert "bob@localhost" in listed.stdout and "read, notes" in listed.stdout
    wrong = admin("grant", "bob", "alice@localhost")
    assert wrong.returncode == 2 and "neither user@domain nor group" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    assert admin("revoke", "bob@localhost", "group:Sales").returncode == 0
    assert admin("revoke", "bob@localhost", "group:Sales").returncode == 1


async def test_permissions_command_is_for_administrators(journal, ejabberd, make_account, raw_client):
    user = await raw_client(make_account("user"))
    adhoc = user.plugin["xep_0050"]
    start = await adhoc.send_command(journal.boundjid.bare, "grant", timeout=10)
    form = user.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="grantee", value="x@localhost")
    form.add_field(var="subject", value="y@localhost")
    with pytest.raises(IqError) as denied:
        await adhoc.send_command(journal.boundjid.bare, "grant", sessionid=start["command"]["sessionid"],
                                 payload=form, action="complete", timeout=10)
    assert denied.value.iq["error"]["condition"] == "forbidden"

    ejabberd.register("admin", "admin-pw")
    from tests.conftest import Account

    admin = await raw_client(Account(JID(f"admin@{ejabberd.settings.domain}"), "admin-pw"))
    start = await admin.plugin["xep_0050"].send_command(journal.boundjid.bare, "grant", timeout=10)
    form = admin.plugin["xep_0004"].make_form(ftype="submit")
    form.add_field(var="grantee", value=user.boundjid.bare)
    form.add_field(var="subject", value="group:Sales")
    done = await admin.plugin["xep_0050"].send_command(
        journal.boundjid.bare, "grant", sessionid=start["command"]["sessionid"], payload=form,
        action="complete", timeout=10)
    assert "may now read" in done["command"]["form"]["instructions"]
    assert await journal.store.allowed(user.boundjid.bare, set(), "group:Sales")


async def test_journal_screen_in_our_client(journal, pair, raw_client, stack_settings):
    from textual.widgets import DataTable, Input

    from tui.app import SwitchboardApp
    from tui.screens import JournalScreen
    from tui.session.events import JournalChanged

    from .conftest import session_account
    from .watch import SessionWatcher

    alice, bob = pair
    b = await raw_client(bob)
    app = SwitchboardApp(session_account(alice, stack_settings))
    watch = SessionWatcher(app.session)
    async with app.run_test(size=(120, 30)) as pilot:
        await watch.until(lambda: app.session.state == "online", what="online")
        b.send_message(mto=alice.jid.bare, mbody="Offer for Zanzibar attached", mtype="chat")
        await watch.until(lambda: app.session.conversation(bob.jid.bare).messages, what="message")
        await settled(journal)
        await pilot.press("f3")
        screen = app.screen
        assert isinstance(screen, JournalScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = screen.query_one(DataTable)
        assert table.row_count == 1
        assert "Offer for Zanzibar" in str(table.get_row_at(0)[5])

        # the entry changes by push, without refreshing
        pushes = len([e for e in watch.events if isinstance(e, JournalChanged)])
        b.send_message(mto=alice.jid.bare, mbody="and the invoice", mtype="chat")
        await watch.until(lambda: len([e for e in watch.events if isinstance(e, JournalChanged)])
                          > pushes, what="journal push")
        await pilot.pause()
        assert "and the invoice" in str(table.get_row_at(0)[5])

        # a note from the keyboard
        await pilot.press("n")
        await pilot.press(*"Call back Monday", "enter")
        await app.workers.wait_for_complete()
        entry_id = next(iter(screen.rows))
        notes = await journal.store.notes([entry_id])
        assert [n.text for n in notes[entry_id]] == ["Call back Monday"]

        # search narrows the view; export gives a link
        await pilot.press("slash", *"nothing-like-this", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.row_count == 0
        assert not screen.query_one("#journal-search", Input).has_class("shown")
        await pilot.press("e")
        await app.workers.wait_for_complete()
        assert screen.last_export.startswith("http")

        # bob's journal: refused without a grant, shown with one
        await pilot.press("slash", "enter")  # clear the search
        await app.workers.wait_for_complete()
        await pilot.press("o", *bob.jid.bare, "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("may not read the journal" in n.message for n in app._notifications)
        await journal.store.grant(alice.jid.bare, bob.jid.bare)
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert table.row_count == 1 and screen.rows[next(iter(screen.rows))].owner == bob.jid.bare
        await pilot.press("escape")
        assert not isinstance(app.screen, JournalScreen)


def test_the_duration_column_tells_my_unanswered_call_from_one_i_missed():
    from tui.screens.journal import duration_cell
    from tui.session.journal import JournalRow

    def row(direction: str, result: str) -> JournalRow:
        now = dt.datetime.now(dt.UTC)
        return JournalRow(1, "alice@localhost", "audio", direction, "bob@localhost", result, now,
                          now, 0, 0, 0)

    assert (duration_cell(row("in", "missed")).plain, duration_cell(row("out", "missed")).plain,
            duration_cell(row("out", "declined")).plain) == ("missed", "no answer", "declined")
