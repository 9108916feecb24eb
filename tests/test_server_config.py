"""The real ejabberd.yml: every service the suite relies on answers as configured."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from slixmpp.xmlstream import ET

EXTDISCO = "urn:xmpp:extdisco:2"


async def test_server_offers_the_services_and_features(ejabberd, make_account, raw_client):
    client = await raw_client(make_account("cfg"), plugins=("xep_0198",))
    domain = ejabberd.settings.domain
    items = await client.plugin["xep_0030"].get_items(jid=domain, timeout=5)
    services = {str(item[0]) for item in items["disco_items"]["items"]}
    for service in (f"conference.{domain}", f"upload.{domain}", f"vjud.{domain}",
                    f"pubsub.{domain}"):
        assert service in services, services
    info = await client.plugin["xep_0030"].get_info(jid=domain, timeout=5)
    features = set(info["disco_info"]["features"])
    for feature in ("urn:xmpp:carbons:2", "urn:xmpp:blocking", EXTDISCO, "msgoffline",
                    "vcard-temp", "urn:xmpp:ping", "http://jabber.org/protocol/commands"):
        assert feature in features, feature
    account_info = await client.plugin["xep_0030"].get_info(jid=client.boundjid.bare, timeout=5)
    account_features = set(account_info["disco_info"]["features"])
    assert "urn:xmpp:mam:2" in account_features
    assert "http://jabber.org/protocol/pubsub#publish" in account_features  # PEP
    # stream features the client negotiated
    assert client.plugin["xep_0198"].enabled_out  # stream management
    assert "rosterver" in client.features


async def test_stun_and_turn_over_udp_and_tcp_on_loopback(ejabberd, make_account, raw_client):
    client = await raw_client(make_account("stun"))
    iq = client.Iq(stype="get", sto=ejabberd.settings.domain)
    iq.append(ET.Element(f"{{{EXTDISCO}}}services"))
    result = await iq.send(timeout=5)
    found = {(s.get("type"), s.get("transport") or "udp", s.get("host"), s.get("port"))
             for s in result.xml.iter(f"{{{EXTDISCO}}}service")}
    port = str(ejabberd.settings.stun_port)
    assert ("stun", "udp", "127.0.0.1", port) in found
    assert ("turn", "udp", "127.0.0.1", port) in found
    assert ("turn", "tcp", "127.0.0.1", port) in found
    turn = [s for s in result.xml.iter(f"{{{EXTDISCO}}}service") if s.get("type") == "turn"]
    assert all(s.get("username") and s.get("password") for s in turn)  # temporary credentials


async def test_http_upload_stores_and_serves_a_file(ejabberd, make_account, raw_client):
    client = await raw_client(make_account("up"))
    client.register_plugin("xep_0363")
    content = f"quarterly report {uuid.uuid4()}".encode()
    slot = await client.plugin["xep_0363"].request_slot(
        f"upload.{ejabberd.settings.domain}", "report.txt", len(content), "text/plain", timeout=5)
    put_url = slot["http_upload_slot"]["put"]["url"]
    get_url = slot["http_upload_slot"]["get"]["url"]
    assert put_url.startswith(ejabberd.settings.upload_url)

    def put_then_get() -> bytes:
        put = urllib.request.Request(put_url, data=content, method="PUT",
                                     headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(put, timeout=10) as response:
            assert response.status in (200, 201)
        with urllib.request.urlopen(get_url, timeout=10) as response:
            return response.read()

    assert await asyncio.to_thread(put_then_get) == content


async def _slot(ejabberd, client, name: str, size: int) -> tuple[str, str, Path]:
    """An upload slot: its PUT and GET URLs and where ejabberd keeps the file."""
    slot = await client.plugin["xep_0363"].request_slot(
        f"upload.{ejabberd.settings.domain}", name, size, "application/octet-stream", timeout=5)
    put_url = slot["http_upload_slot"]["put"]["url"]
    relative = urllib.parse.urlsplit(put_url).path.split("/upload/", 1)[1]
    return put_url, slot["http_upload_slot"]["get"]["url"], ejabberd.settings.upload_dir / relative


def _put(url: str, content: bytes) -> None:
    request = urllib.request.Request(url, data=content, method="PUT")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


async def _until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait for a change ejabberd makes on disk without telling anyone, looking every 20 ms."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_uploads_expire_after_the_configured_days(ejabberd, make_account, raw_client):
    host = f'<<"{ejabberd.settings.domain}">>'
    assert ejabberd.rpc("gen_mod", "is_loaded", f"[{host}, mod_http_upload_quota]") == "true"
    days = ejabberd.settings.upload_max_days
    assert days > 0
    assert ejabberd.rpc("mod_http_upload_quota_opt", "max_days", f"[{host}]") == str(days)

    client = await raw_client(make_account("expiry"), plugins=("xep_0363",))
    old_put, old_get, old_file = await _slot(ejabberd, client, "old.bin", 5)
    new_put, new_get, new_file = await _slot(ejabberd, client, "new.bin", 5)
    await asyncio.to_thread(_put, old_put, b"older")
    await asyncio.to_thread(_put, new_put, b"newer")
    aged = time.time() - (days + 1) * 86400
    os.utime(old_file, (aged, aged))  # uploaded a day longer ago than files are kept
    # the daily sweep, now: a message to the module's process, then a call it answers after it
    process = ejabberd.rpc("mod_http_upload", "get_proc_name", f"[{host}, mod_http_upload_quota]")
    ejabberd.rpc("erlang", "send", f"[{process}, sweep]")
    ejabberd.rpc("sys", "get_state", f"[{process}]")
    assert not old_file.exists() and new_file.read_bytes() == b"newer"
    assert await asyncio.to_thread(_status, old_get) == 404
    assert await asyncio.to_thread(_status, new_get) == 200


async def test_an_upload_cut_off_midway_leaves_no_file(ejabberd, make_account, raw_client):
    client = await raw_client(make_account("cut"), plugins=("xep_0363",))
    size = 4_000_000
    put_url, get_url, stored = await _slot(ejabberd, client, "cut.bin", size)
    url = urllib.parse.urlsplit(put_url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(f"PUT {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                     f"Content-Length: {size}\r\n\r\n".encode() + bytes(size // 2))
        await _until(lambda: stored.exists() and stored.stat().st_size > 0, "the part on disk")
        assert await asyncio.to_thread(_status, get_url) == 200  # served while it arrives
    await _until(lambda: not stored.exists(), "the part deleted after the connection closed")
    assert await asyncio.to_thread(_status, get_url) == 404


async def test_messages_are_archived_on_sql(ejabberd, pair, raw_client):
    alice, bob = pair
    sender = await raw_client(alice)
    receiver = await raw_client(bob)
    marker = f"archived {uuid.uuid4()}"
    sender.send_message(mto=bob.jid.bare, mbody=marker, mtype="chat")
    # ejabberd archives a message before routing it on, so once bob has it, it is archived
    assert (await asyncio.wait_for(receiver.inbox.get(), 10))["body"] == marker
    reader = await raw_client(alice, resource="reader", plugins=("xep_0313",))
    result = await reader.plugin["xep_0313"].retrieve(with_jid=bob.jid, timeout=5)
    bodies = [r["mam_result"]["forwarded"]["stanza"]["body"] for r in result["mam"]["results"]]
    assert marker in bodies


async def test_rooms_are_archived_by_default(ejabberd, make_account, raw_client):
    client = await raw_client(make_account("muc"))
    client.register_plugin("xep_0045")
    room = f"room-{uuid.uuid4().hex[:6]}@conference.{ejabberd.settings.domain}"
    await client.plugin["xep_0045"].join_muc_wait(room, "owner", timeout=10)
    await client.plugin["xep_0045"].set_room_config(
        room, await client.plugin["xep_0045"].get_room_config(room), timeout=10)
    info = await client.plugin["xep_0030"].get_info(jid=room, timeout=5)
    assert "urn:xmpp:mam:2" in info["disco_info"]["features"]


def _http_exchange(host: str, port: int, request: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(request)
        return sock.recv(4096)


async def test_websocket_and_bosh_endpoints_answer(ejabberd):
    s = ejabberd.settings
    upgrade = (f"GET /ws HTTP/1.1\r\nHost: {s.domain}:{s.http_port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n").encode()
    answer = await asyncio.to_thread(_http_exchange, s.bind_ip, s.http_port, upgrade)
    assert answer.startswith(b"HTTP/1.1 101"), answer[:200]
    assert b"xmpp" in answer.lower()
    bosh = await asyncio.to_thread(_http_exchange, s.bind_ip, s.http_port,
                                   f"GET /bosh HTTP/1.1\r\nHost: {s.domain}\r\n\r\n".encode())
    assert bosh.startswith(b"HTTP/1.1 200"), bosh[:200]


def test_every_listener_binds_loopback_only(ejabberd):
    """Nothing of this ejabberd listens beyond 127.0.0.1."""
    pid = ejabberd.pid()
    assert pid is not None
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    listening = []
    for table in ("tcp", "udp", "tcp6", "udp6"):
        with open(f"/proc/{pid}/net/{table}") as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if inode in inodes and (table.startswith("udp") or state == "0A"):
                    listening.append((table, local))
    assert len(listening) >= 7, listening  # c2s, http, stun udp+tcp, 2 components, dist
    for table, local in listening:
        address = local.split(":")[0]
        assert table in ("tcp", "udp") and address == "0100007F", (table, local)
