"""The client-session layer: XMPP for the terminal client, as data and events widgets observe."""

from . import events
from .client import Account, ChatSession
from .model import ChatMessage, Contact, Conversation, Delivery, Direction, Show

__all__ = ["Account", "ChatMessage", "ChatSession", "Contact", "Conversation", "Delivery",
           "Direction", "Show", "events"]
