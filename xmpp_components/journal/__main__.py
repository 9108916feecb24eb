"""``python -m xmpp_components.journal``: run the journal component; ``… admin`` manages grants."""

import sys

from xmpp_components.base import component_main

from .admin import admin_main
from .component import JournalComponent

if __name__ == "__main__":
    if sys.argv[1:2] == ["admin"]:
        sys.exit(admin_main(sys.argv[2:]))
    component_main(JournalComponent)
