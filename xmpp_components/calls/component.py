"""The call-control component. This skeleton connects, answers disco and its status command."""

from __future__ import annotations

from xmpp_components.base import SwitchboardComponent


class CallsComponent(SwitchboardComponent):
    """calls.<domain>: the switch users' lines live on (built out in its own issue)."""

    name = "calls"
    description = "Switchboard call control"
    features = ()
