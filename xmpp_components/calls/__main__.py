"""``python -m xmpp_components.calls``: run the call-control component."""

from xmpp_components.base import component_main

from .component import CallsComponent

if __name__ == "__main__":
    component_main(CallsComponent)
