"""Widgets of the terminal client, grouped by screen area. None of them touches XMPP."""
