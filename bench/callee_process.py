"""Phones that answer every call at once, in a process of their own (for ``call_setup``).

``python -m bench.callee_process`` reads one JSON line on stdin: ``settings`` (the stack's, as
``StackSettings`` dumps them) and ``phones``, each ``{"jid", "password", "config"}``, plus
``relay`` (a port, or null) to reach the STUN/TURN server through. It prints ``ready`` once every
phone is logged in, then for each call one JSON line when it rings (``{"sid", "rang"}``) and one
when it is connected (``{"sid", "connected"}``), wall-clock seconds; it stops when stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from tests.clients import RawClient
from tests.phones import PHONE_PLUGINS, Phone
from xmpp_components.plugins.jingle import Call, CallState
from xmpp_components.plugins.jingle.media import ToneTrack
from xmpp_components.stack.settings import StackSettings

from .call_setup import through


def _report(**event: Any) -> None:
    print(json.dumps(event), flush=True)


def _answer(call: Call) -> None:
    _report(sid=call.sid, rang=time.time())

    def connected(changed: Call) -> None:
        if changed.state is CallState.ACTIVE and connected in changed.listeners:
            changed.listeners.remove(connected)
            _report(sid=changed.sid, connected=changed.answered_at)

    call.listeners.append(connected)
    asyncio.ensure_future(call.accept(audio=ToneTrack(660)))


async def main() -> None:
    loop = asyncio.get_running_loop()
    order = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    settings = StackSettings.model_validate(order["settings"])
    phones = []
    for wanted in order["phones"]:
        client = RawClient(wanted["jid"] + "/phone", wanted["password"], settings,
                           plugins=PHONE_PLUGINS, plugin_config={"sb_jingle": wanted["config"]})
        await client.start()
        phone = Phone(client)
        if order["relay"]:
            through(phone, settings.stun_port, order["relay"])
        client.add_event_handler("jingle_call_incoming", _answer)
        phones.append(phone)
    print("ready", flush=True)
    while await loop.run_in_executor(None, sys.stdin.readline):
        pass
    for phone in phones:
        await phone.client.stop()


if __name__ == "__main__":
    asyncio.run(main())
