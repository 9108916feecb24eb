"""The assistant account: ChatGPT and DALL-E in 1:1 chats and rooms (AI1–AI7)."""

from .bot import AssistantBot
from .config import AssistantSettings

__all__ = ["AssistantBot", "AssistantSettings"]
