"""``python -m xmpp_components.journal``: run the journal component."""

from xmpp_components.base import component_main

from .component import JournalComponent

if __name__ == "__main__":
    component_main(JournalComponent)
