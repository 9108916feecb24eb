"""Rooms: the participants panel of the open room."""

from .participants import ParticipantList

__all__ = ["ParticipantList"]
