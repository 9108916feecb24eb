"""``python -m xmpp_components.stack``: the launcher (see :mod:`.cli`)."""

import sys

from .cli import main

sys.exit(main())
