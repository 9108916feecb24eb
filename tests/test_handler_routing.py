"""The client's handler gates (``slixfix.route_handlers``) decide as slixmpp's own matchers do.

No network: the terminal client's real stream, with every plugin and session service attached as
``ChatSession.start`` attaches them, is handed stanzas shaped like what ejabberd and other clients
send; each handler must match exactly the stanzas it matches without its gate.
"""

from __future__ import annotations

import asyncio
import importlib
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from tui.session.client import Account, ChatSession, _Stream

ME, PEER, ROOM = "alice@localhost", "bob@localhost", "team@conference.localhost"

STANZAS = {
    "chat": f"""<message xmlns='jabber:client' from='{PEER}/phone' to='{ME}/sb' type='chat' id='m1'>
        <body>hello</body><request xmlns='urn:xmpp:receipts'/>
        <markable xmlns='urn:xmpp:chat-markers:0'/><origin-id xmlns='urn:xmpp:sid:0' id='m1'/>
        <stanza-id xmlns='urn:xmpp:sid:0' by='{ME}' id='s1'/>
        <active xmlns='http://jabber.org/protocol/chatstates'/></message>""",
    "receipt": f"""<message xmlns='jabber:client' from='{PEER}/phone' to='{ME}/sb' id='r1'>
        <received xmlns='urn:xmpp:receipts' id='m9'/></message>""",
    "displayed": f"""<message xmlns='jabber:client' from='{PEER}/phone' to='{ME}/sb' type='chat'>
        <displayed xmlns='urn:xmpp:chat-markers:0' id='m9'/></message>""",
    "composing": f"""<message xmlns='jabber:client' from='{PEER}/phone' to='{ME}/sb' type='chat'>
        <composing xmlns='http://jabber.org/protocol/chatstates'/></message>""",
    "carbon received": f"""<message xmlns='jabber:client' from='{ME}' to='{ME}/sb'>
        <received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>
        <message xmlns='jabber:client' from='{PEER}/phone' to='{ME}/other' type='chat' id='c1'>
        <body>copy</body></message></forwarded></received></message>""",
    "carbon sent": f"""<message xmlns='jabber:client' from='{ME}' to='{ME}/sb'>
        <sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>
        <message xmlns='jabber:client' from='{ME}/other' to='{PEER}' type='chat' id='c2'>
        <body>mine</body></message></forwarded></sent></message>""",
    "correction": f"""<message xmlns='jabber:client' from='{PEER}/phone' to='{ME}/sb' type='chat'>
        <body>fixed</body><replace xmlns='urn:xmpp:message-correct:0' id='m1'/></message>""",
    "reaction": f"""<message xmlns='jabber:client' from='{PEER}/phone' to='{ME}/sb' type='chat'>
        <reactions xmlns='urn:xmpp:reactions:0' id='m1'><reaction>👍</reaction></reactions>
        <store xmlns='urn:xmpp:hints'/></message>""",
    "retraction": f"""<message xmlns='jabber:client' from='{PEER}/phone' to='{ME}/sb' type='chat'>
        <retract xmlns='urn:xmpp:message-retract:1' id='m1'/>
        <body>retracted</body></message>""",
    "reply": f"""<message xmlns='jabber:client' from='{PEER}/phone' to='{ME}/sb' type='chat'>
        <body>yes</body><reply xmlns='urn:xmpp:reply:0' to='{ME}/sb' id='m1'/></message>""",
    "file": f"""<message xmlns='jabber:client' from='{PEER}/phone' to='{ME}/sb' type='chat'>
        <body>https://localhost/f.png</body>
        <x xmlns='jabber:x:oob'><url>https://localhost/f.png</url></x></message>""",
    "message error": f"""<message xmlns='jabber:client' from='{PEER}' to='{ME}/sb' type='error' id='m2'>
        <error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
        </error></message>""",
    "room message": f"""<message xmlns='jabber:client' from='{ROOM}/bob' to='{ME}/sb'
        type='groupchat' id='g1'><body>hi all</body>
        <stanza-id xmlns='urn:xmpp:sid:0' by='{ROOM}' id='s9'/></message>""",
    "room subject": f"""<message xmlns='jabber:client' from='{ROOM}/bob' to='{ME}/sb'
        type='groupchat'><subject>plans</subject></message>""",
    "room invite": f"""<message xmlns='jabber:client' from='{ROOM}' to='{ME}'>
        <x xmlns='http://jabber.org/protocol/muc#user'><invite from='{PEER}/phone'>
        <reason>join us</reason></invite></x></message>""",
    "direct invite": f"""<message xmlns='jabber:client' from='{PEER}/phone' to='{ME}'>
        <x xmlns='jabber:x:conference' jid='{ROOM}'/></message>""",
    "room config": f"""<message xmlns='jabber:client' from='{ROOM}' to='{ME}/sb' type='groupchat'>
        <x xmlns='http://jabber.org/protocol/muc#user'><status code='104'/></x></message>""",
    "pep items": f"""<message xmlns='jabber:client' from='{ME}' to='{ME}/sb' type='headline'>
        <event xmlns='http://jabber.org/protocol/pubsub#event'>
        <items node='urn:xmpp:bookmarks:1'><item id='{ROOM}'>
        <conference xmlns='urn:xmpp:bookmarks:1' autojoin='true' name='Team'/></item></items>
        </event></message>""",
    "pep retract": f"""<message xmlns='jabber:client' from='{ME}' to='{ME}/sb' type='headline'>
        <event xmlns='http://jabber.org/protocol/pubsub#event'>
        <items node='urn:xmpp:bookmarks:1'><retract id='{ROOM}'/></items></event></message>""",
    "call propose": f"""<message xmlns='jabber:client' from='{PEER}/phone' to='{ME}' type='chat'>
        <propose xmlns='urn:xmpp:jingle-message:0' id='call1'>
        <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/></propose>
        <store xmlns='urn:xmpp:hints'/></message>""",
    "roster push": f"""<iq xmlns='jabber:client' type='set' id='i1' to='{ME}/sb'>
        <query xmlns='jabber:iq:roster'><item jid='{PEER}' subscription='both'/></query></iq>""",
    "ping": f"""<iq xmlns='jabber:client' type='get' id='i2' from='localhost' to='{ME}/sb'>
        <ping xmlns='urn:xmpp:ping'/></iq>""",
    "disco info": f"""<iq xmlns='jabber:client' type='get' id='i3' from='{PEER}/phone' to='{ME}/sb'>
        <query xmlns='http://jabber.org/protocol/disco#info'/></iq>""",
    "jingle": f"""<iq xmlns='jabber:client' type='set' id='i4' from='{PEER}/phone' to='{ME}/sb'>
        <jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='call1'>
        <reason><success/></reason></jingle></iq>""",
    "iq result": f"""<iq xmlns='jabber:client' type='result' id='i5' from='{PEER}/phone'
        to='{ME}/sb'/>""",
    "presence": f"""<presence xmlns='jabber:client' from='{PEER}/phone' to='{ME}'>
        <show>away</show><status>lunch</status>
        <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>""",
    "room presence": f"""<presence xmlns='jabber:client' from='{ROOM}/bob' to='{ME}/sb'>
        <x xmlns='http://jabber.org/protocol/muc#user'>
        <item affiliation='member' role='participant' jid='{PEER}/phone'/></x></presence>""",
    "room presence error": f"""<presence xmlns='jabber:client' from='{ROOM}/alice' to='{ME}/sb'
        type='error'><x xmlns='http://jabber.org/protocol/muc'/>
        <error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>
        </presence>""",
    "sm ack": "<a xmlns='urn:xmpp:sm:3' h='5'/>",
    "sm request": "<r xmlns='urn:xmpp:sm:3'/>",
}


@pytest.fixture(scope="module")
async def stream() -> Any:
    """The client's stream as a session builds it, with every service's handlers.

    Built in the running loop, as ``ChatSession.start`` builds it: the stream takes the loop it is
    built in, and the services' ``+notify`` interests each schedule an entity-caps update there
    (XEP-0163 ``add_interest``); a stream built outside a loop leaves those on a loop that is closed
    without running them ("coroutine 'XEP_0115.update_caps' was never awaited")."""
    importlib.import_module("xmpp_components.plugins.jingle")  # as ChatSession.start does
    session = ChatSession(Account(ME, "secret", resource="sb"))
    stream = _Stream(session.account)
    for service in (session.rooms, session.pins, session.calls, session.files, session.actions,
                    session.typing):
        service.attach(stream)
    return stream


async def test_the_stream_runs_its_caps_updates_in_the_loop_it_was_built_in(stream: Any) -> None:
    assert stream.loop is asyncio.get_running_loop()
    updates = [task for task in asyncio.all_tasks()
               if getattr(task.get_coro(), "__qualname__", "") == "XEP_0115.update_caps"]
    await asyncio.wait_for(asyncio.gather(*updates), 5)
    ver = await stream.plugin["xep_0115"].get_verstring(stream.boundjid)
    info = await stream.plugin["xep_0030"].get_info(stream.boundjid, local=True)
    assert ver == stream.plugin["xep_0115"].generate_verstring(info, "sha-1")
    assert "urn:xmpp:bookmarks:1+notify" in info["features"]  # the interests are in the hash


def _matches(stream: Any, xml: str, gated: bool) -> list[str]:
    stanza = stream._build_stanza(ET.fromstring(xml))
    handlers = stream._XMLStream__handlers
    if gated:
        return [h.name for h in handlers if h.match(stanza)]
    return [h.name for h in handlers if type(h).match(h, stanza)]


@pytest.mark.parametrize("kind", STANZAS)
def test_gated_handlers_match_what_slixmpp_matches(stream: Any, kind: str) -> None:
    assert _matches(stream, STANZAS[kind], gated=True) == _matches(stream, STANZAS[kind], gated=False)


def test_most_handlers_have_a_gate_and_stanzas_reach_their_handlers(stream: Any) -> None:
    for xml in STANZAS.values():  # gates of handlers registered after route_handlers come now
        _matches(stream, xml, gated=True)
    handlers = stream._XMLStream__handlers
    gated = [h.name for h in handlers if "match" in vars(h)]
    assert len(handlers) > 40 and len(gated) >= len(handlers) - 3, set(h.name for h in handlers) - set(gated)
    assert {"IM", "Message Receipt Request"} <= set(_matches(stream, STANZAS["chat"], gated=True))
    assert "Jingle Message Initiation" in _matches(stream, STANZAS["call propose"], gated=True)
    assert "MUCMessage" in _matches(stream, STANZAS["room message"], gated=True)


def test_a_handler_registered_later_is_gated_and_still_called(stream: Any) -> None:
    seen: list[str] = []
    stream.register_handler(Callback("late", StanzaPath("message/replace"),
                                     lambda stanza: seen.append(stanza["id"])))
    try:
        late = next(h for h in stream._XMLStream__handlers if h.name == "late")
        assert "late" in _matches(stream, STANZAS["correction"], gated=True)
        assert "late" not in _matches(stream, STANZAS["chat"], gated=True)
        assert "match" in vars(late)  # its gate is in place after the first stanza
    finally:
        stream.remove_handler("late")
