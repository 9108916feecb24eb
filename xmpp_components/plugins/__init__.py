"""slixmpp plugins of our own, one package per protocol feature, usable by components, the
assistant and the terminal client alike."""
