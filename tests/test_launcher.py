"""The launcher as a user runs it: up, status, a foreign client logs in, down leaves nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from slixmpp import JID

from tui.session import Account as SessionAccount
from tui.session import ChatSession
from xmpp_components.stack.ejabberd import EjabberdServer
from xmpp_components.stack.processes import COMPONENTS, ComponentProcess
from xmpp_components.stack.settings import StackSettings, private_settings

from .clients import RawClient
from .watch import SessionWatcher


def launcher(settings: StackSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()  # no provider key: the assistant must say so
           if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "SWITCHBOARD_ASSISTANT_"))}
    env.update(settings.component_env())
    return subprocess.run([sys.executable, "-m", "xmpp_components.stack", *args], env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def our_processes(settings: StackSettings) -> list[str]:
    """Command lines of running processes that belong to this stack."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if settings.node_name in cmdline or str(settings.state_dir).encode() in environ:
            found.append(cmdline)
    return found


async def test_up_status_down(tmp_path):
    settings = private_settings(tmp_path / "state")
    try:
        up = launcher(settings, "up")
        assert up.returncode == 0, up.stderr + up.stdout
        assert "no terminal here" in up.stdout  # no tty: the client is not opened
        status = launcher(settings, "status")
        assert status.returncode == 0, status.stdout
        assert "ejabberd     running" in status.stdout
        for name in COMPONENTS:
            assert ComponentProcess(settings, name).pid() is not None
        assert "assistant    running" in status.stdout

        # a client we did not write logs in as bob; alice is in his roster (demo group)
        bob = RawClient(f"bob@{settings.domain}/test", "bob", settings)
        await bob.start()
        try:
            assert JID(f"alice@{settings.domain}") in bob.client_roster
            info = await bob.plugin["xep_0030"].get_info(jid=f"journal.{settings.domain}", timeout=5)
            assert info["disco_info"]["identities"]
            # the assistant is online and says why it cannot answer yet (no key in this test)
            assistant = bob.client_roster[f"assistant@{settings.domain}"].resources
            if not assistant:
                arrived = asyncio.Event()
                bob.add_event_handler("presence_dnd", lambda _p: arrived.set())
                await asyncio.wait_for(arrived.wait(), 10)
            (presence,) = bob.client_roster[f"assistant@{settings.domain}"].resources.values()
            assert (presence["show"], presence["status"]) == ("dnd", "not configured: no API key")
        finally:
            await bob.stop()

        # the demo people have business cards, read by our client as by any; one edited by its
        # owner is not reset by the next `up`
        session = ChatSession(SessionAccount(f"bob@{settings.domain}", "bob", settings.bind_ip,
                                             settings.c2s_port, settings.ca_file))
        watch = SessionWatcher(session)
        await session.start()
        try:
            await watch.until(lambda: session.state == "online", what="bob online")
            assert await session.card(f"carol@{settings.domain}") == {
                "name": "Carol Clark", "organisation": "Support", "title": "Support lead",
                "phone": "+49 30 1234 5603"}
            mine = session.stream.plugin["xep_0054"].make_vcard()
            mine["FN"] = "Robert Brown"
            await session.stream.plugin["xep_0054"].publish_vcard(mine, timeout=10)
        finally:
            await session.stop()

        again = launcher(settings, "up", "--no-client")  # idempotent: nothing restarts
        assert again.returncode == 0
        assert "ejabberd     running" in again.stdout
        assert EjabberdServer(settings).api("get_vcard", user="bob", host=settings.domain,
                                            name="FN") == "Robert Brown"
        pids = [EjabberdServer(settings).pid(), *(ComponentProcess(settings, n).pid() for n in COMPONENTS)]
    finally:
        down = launcher(settings, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert our_processes(settings) == []
    # gone from the process table too: `pgrep -a beam` right after `down` shows nothing of ours
    assert [pid for pid in pids if pid and Path(f"/proc/{pid}").exists()] == []
    stopped = launcher(settings, "status")
    assert stopped.returncode == 3
    assert "ejabberd     stopped" in stopped.stdout


def test_port_in_use_is_a_clear_error(tmp_path, ejabberd):
    taken = private_settings(tmp_path / "state").model_copy(
        update={"c2s_port": ejabberd.settings.c2s_port})
    result = launcher(taken, "up", "--no-client")
    assert result.returncode == 1
    assert f"port {ejabberd.settings.c2s_port} (c2s)" in result.stderr
    assert "Traceback" not in result.stderr
