"""The conversation area: the message history and the composer."""

from .composer import Composer
from .message_log import MessageLog, delivery_label

__all__ = ["Composer", "MessageLog", "delivery_label"]
