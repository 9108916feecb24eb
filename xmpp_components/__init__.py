"""Switchboard's XEP-0114 components and the XMPP building blocks they share with the clients."""
