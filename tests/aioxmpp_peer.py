"""aioxmpp as the other party: a client we did not write, speaking through its own services.

:class:`AioxmppPeer` is a person on aioxmpp 0.13: one-to-one chats through its ``im.p2p`` service,
rooms through its ``MUCClient``, delivery receipts through its ``DeliveryReceiptsService`` and
trackers, chat markers, corrections and out-of-band data through its XSOs. The XEPs aioxmpp 0.13
does not know (reactions, replies, retractions, fallback bodies) are declared here as XSOs on its
``Message``, the way aioxmpp declares its own extensions, so what arrives is parsed field by field.

Compat care for this Python and pyOpenSSL, kept here and not in aioxmpp: aioxmpp's certificate
verifier reads the certificate's names with ``X509.get_extension``, which pyOpenSSL 24 removed, so
:class:`_StackCertificate` checks the chain with OpenSSL against the stack's CA file and the host
name with ``cryptography``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aioxmpp
import aioxmpp.connector
import aioxmpp.im.conversation
import aioxmpp.im.p2p
import aioxmpp.im.service
import aioxmpp.mdr
import aioxmpp.misc
import aioxmpp.muc
import aioxmpp.security_layer as security_layer
import aioxmpp.tracking
import aioxmpp.xso as xso
from cryptography import x509 as crypto_x509

from xmpp_components.stack.settings import StackSettings

REACTIONS_NS = "urn:xmpp:reactions:0"
REPLY_NS = "urn:xmpp:reply:0"
RETRACT_NS = "urn:xmpp:message-retract:1"
FALLBACK_NS = "urn:xmpp:fallback:0"
HINTS_NS = "urn:xmpp:hints"


class Reaction(xso.XSO):
    """XEP-0444 ``<reaction>``: one emoji."""

    TAG = (REACTIONS_NS, "reaction")
    value = xso.Text(default="")

    def __init__(self, value: str = "") -> None:
        super().__init__()
        self.value = value


class Reactions(xso.XSO):
    """XEP-0444 ``<reactions id=…>``: all of the sender's emojis for one message."""

    TAG = (REACTIONS_NS, "reactions")
    id_ = xso.Attr("id")
    reactions = xso.ChildList([Reaction])

    def __init__(self, id_: str | None = None, emojis: tuple[str, ...] = ()) -> None:
        super().__init__()
        if id_ is not None:
            self.id_ = id_
        self.reactions.extend(Reaction(e) for e in emojis)

    @property
    def emojis(self) -> list[str]:
        """The emojis, in order."""
        return [r.value for r in self.reactions]


class Reply(xso.XSO):
    """XEP-0461 ``<reply to=… id=…/>``."""

    TAG = (REPLY_NS, "reply")
    to = xso.Attr("to", type_=xso.JID(), default=None)
    id_ = xso.Attr("id")

    def __init__(self, to: aioxmpp.JID | None = None, id_: str | None = None) -> None:
        super().__init__()
        self.to = to
        if id_ is not None:
            self.id_ = id_


class Retract(xso.XSO):
    """XEP-0424 ``<retract id=…/>``."""

    TAG = (RETRACT_NS, "retract")
    id_ = xso.Attr("id")

    def __init__(self, id_: str | None = None) -> None:
        super().__init__()
        if id_ is not None:
            self.id_ = id_


class FallbackBody(xso.XSO):
    """XEP-0428 ``<body start=… end=…/>``: which characters of the body are fallback."""

    TAG = (FALLBACK_NS, "body")
    start = xso.Attr("start", type_=xso.Integer(), default=None)
    end = xso.Attr("end", type_=xso.Integer(), default=None)

    def __init__(self, start: int | None = None, end: int | None = None) -> None:
        super().__init__()
        self.start, self.end = start, end


class Fallback(xso.XSO):
    """XEP-0428 ``<fallback for=…>``."""

    TAG = (FALLBACK_NS, "fallback")
    for_ = xso.Attr("for", default=None)
    bodies = xso.ChildList([FallbackBody])

    def __init__(self, for_: str | None = None, bodies: tuple[FallbackBody, ...] = ()) -> None:
        super().__init__()
        self.for_ = for_
        self.bodies.extend(bodies)


aioxmpp.Message.xep0444_reactions = xso.Child([Reactions])
aioxmpp.Message.xep0461_reply = xso.Child([Reply])
aioxmpp.Message.xep0424_retract = xso.Child([Retract])
aioxmpp.Message.xep0428_fallbacks = xso.ChildList([Fallback])
aioxmpp.Message.xep0334_store = xso.ChildFlag((HINTS_NS, "store"))


class _StackCertificate(security_layer.CertificateVerifier):
    """The chain checked by OpenSSL against the stack's CA file; the host name against the
    certificate's DNS names, read with ``cryptography``."""

    def __init__(self, ca_file: Path) -> None:
        self.ca_file = ca_file

    def setup_context(self, ctx: Any, transport: Any) -> None:
        super().setup_context(ctx, transport)
        ctx.load_verify_locations(str(self.ca_file))

    def verify_callback(self, conn: Any, x509: Any, errno: int, errdepth: int, returncode: int) -> bool:
        if not returncode:
            return False
        if errdepth > 0:
            return True
        host = self.transport.get_extra_info("server_hostname")
        names = x509.to_cryptography().extensions.get_extension_for_class(
            crypto_x509.SubjectAlternativeName).value.get_values_for_type(crypto_x509.DNSName)
        return any(name == host or (name.startswith("*.") and host.partition(".")[2] == name[2:])
                   for name in names)

    async def post_handshake(self, transport: Any) -> None:
        return None


def security(password: str, ca_file: Path) -> security_layer.SecurityLayer:
    """STARTTLS trusting the stack's certificate, SCRAM with ``password``."""

    async def provide(_jid: aioxmpp.JID, attempt: int) -> str | None:
        return password if attempt == 0 else None

    return security_layer.SecurityLayer(security_layer.default_ssl_context,
                                        lambda: _StackCertificate(ca_file), True,
                                        (security_layer.PasswordSASLProvider(provide),))


class AioxmppPeer:
    """One aioxmpp client logged in as a person: available, with receipts and markers.

    Every message stanza it receives is put on :attr:`stanzas` (before aioxmpp's services take
    receipts out), so a test can read what arrived field by field; invitations to rooms are put
    on :attr:`invitations`."""

    def __init__(self, jid: str, password: str, settings: StackSettings) -> None:
        self.jid = aioxmpp.JID.fromstr(jid)
        self.client = aioxmpp.PresenceManagedClient(
            self.jid, security(password, settings.ca_file),
            override_peer=[(settings.bind_ip, settings.c2s_port,
                            aioxmpp.connector.STARTTLSConnector())])
        self.stanzas: asyncio.Queue[aioxmpp.Message] = asyncio.Queue()
        self.invitations: asyncio.Queue[tuple[aioxmpp.JID, aioxmpp.JID, str | None]] = asyncio.Queue()
        self.chats = self.client.summon(aioxmpp.im.p2p.Service)
        self.receipts = self.client.summon(aioxmpp.mdr.DeliveryReceiptsService)
        self.muc = self.client.summon(aioxmpp.MUCClient)
        self.client.stream.service_inbound_message_filter.register(self._record, -1000)
        self.muc.on_muc_invitation.connect(self._invited)
        self._exit = contextlib.AsyncExitStack()

    def _record(self, stanza: aioxmpp.Message) -> aioxmpp.Message:
        self.stanzas.put_nowait(stanza)
        return stanza

    def _invited(self, _stanza: aioxmpp.Message, room: aioxmpp.JID, inviter: aioxmpp.JID,
                 _mode: Any, *, password: str | None = None, reason: str | None = None) -> None:
        self.invitations.put_nowait((room, inviter, reason))

    async def start(self) -> None:
        """Connect and be available; return once the stream is up."""
        self.client.summon(aioxmpp.PresenceServer).set_presence(aioxmpp.PresenceState(True))
        await asyncio.wait_for(self._exit.enter_async_context(self.client.connected(
            presence=aioxmpp.PresenceState(False))), 20)  # the presence server says available

    async def stop(self) -> None:
        """Go offline and close the stream."""
        await self._exit.aclose()

    async def next(self, condition: Callable[[aioxmpp.Message], object], timeout: float = 15.0,
                   ) -> aioxmpp.Message:
        """The next received stanza for which ``condition`` holds (earlier ones are dropped)."""

        async def wait() -> aioxmpp.Message:
            while True:
                stanza = await self.stanzas.get()
                if condition(stanza):
                    return stanza

        return await asyncio.wait_for(wait(), timeout)

    def chat(self, peer: str) -> aioxmpp.im.p2p.Conversation:
        """The one-to-one conversation with ``peer`` (a full JID: receipts are matched by it)."""
        return self.chats.get_conversation(aioxmpp.JID.fromstr(peer))

    def say(self, peer: str, body: str, *, markable: bool = True,
            extend: Callable[[aioxmpp.Message], None] | None = None,
            ) -> tuple[aioxmpp.Message, aioxmpp.tracking.MessageTracker]:
        """Send ``body`` to ``peer`` asking for a receipt (tracked) and chat markers."""
        message = aioxmpp.Message(type_=aioxmpp.MessageType.CHAT, to=aioxmpp.JID.fromstr(peer))
        message.body[None] = body
        message.xep0333_markable = markable
        if extend is not None:
            extend(message)
        message.to = aioxmpp.JID.fromstr(peer)
        tracker = self.receipts.attach_tracker(message)
        self.chat(peer).send_message(message)
        return message, tracker

    def send(self, message: aioxmpp.Message) -> None:
        """Send a stanza built by the test as it is."""
        message.autoset_id()
        self.client.enqueue(message)

    def acknowledge(self, received: aioxmpp.Message) -> None:
        """What a person's client does with a message it shows: a receipt (XEP-0184) if asked,
        and a ``displayed`` marker (XEP-0333) if the message is markable."""
        if received.xep0184_request_receipt:
            self.send(aioxmpp.mdr.compose_receipt(received))
        if received.xep0333_markable:
            marker = received.make_reply()
            marker.to = received.from_.bare()
            marker.xep0333_marker = aioxmpp.misc.DisplayedMarker()
            marker.xep0333_marker.id_ = received.id_
            self.send(marker)
