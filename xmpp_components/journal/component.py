"""The journal component. This skeleton connects, answers disco and its status command."""

from __future__ import annotations

from xmpp_components.base import SwitchboardComponent

JOURNAL_NS = "urn:switchboard:journal:0"


class JournalComponent(SwitchboardComponent):
    """journal.<domain>: records every communication of local users (built out in its own issue)."""

    name = "journal"
    description = "Switchboard journal"
    features = (JOURNAL_NS,)
