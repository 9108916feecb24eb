"""Audio/video calls on Jingle and aiortc, as the slixmpp plugin ``sb_jingle``.

Register it on any stream with ``xmpp.register_plugin("sb_jingle",
module="xmpp_components.plugins.jingle")`` (importing this package registers it by name).
"""

from slixmpp.plugins.base import register_plugin

from .call import Call, CallEnd, CallQuality, CallState
from .plugin import JinglePlugin

register_plugin(JinglePlugin)

__all__ = ["Call", "CallEnd", "CallQuality", "CallState", "JinglePlugin"]
