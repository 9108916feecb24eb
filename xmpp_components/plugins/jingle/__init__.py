"""Audio/video calls on Jingle and aiortc, as the slixmpp plugin ``sb_jingle``.

Register it on any stream with ``xmpp.register_plugin("sb_jingle",
module="xmpp_components.plugins.jingle")`` (importing this package registers it by name, and
puts the cheaper audio path of :mod:`.speedups` in place for every peer connection).
"""

from slixmpp.plugins.base import register_plugin

from . import speedups
from .call import Call, CallEnd, CallQuality, CallState
from .plugin import JinglePlugin

register_plugin(JinglePlugin)
speedups.install()

__all__ = ["Call", "CallEnd", "CallQuality", "CallState", "JinglePlugin"]
