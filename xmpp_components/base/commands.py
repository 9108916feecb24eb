"""Publish XEP-0050 ad-hoc commands with XEP-0004 forms, so any XMPP client can use a component.

A command is declared once — its node, its name, its fields, and a coroutine that gets the
submitted values — and :class:`CommandRegistry` does the two-step exchange: the first request
returns the form, the submission is validated (required fields, types, options) and either
answered with a result form or with a ``bad-request`` error whose text names the field to fix.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slixmpp import JID, Iq
from slixmpp.exceptions import XMPPError

if TYPE_CHECKING:
    from .component import SwitchboardComponent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Field:
    """One field of a command's form."""

    var: str
    label: str
    type: str = "text-single"
    required: bool = False
    options: tuple[str, ...] = ()
    default: str | None = None
    desc: str = ""


@dataclass
class Result:
    """What a command answers: a note and, optionally, a table of rows or single values."""

    note: str = ""
    values: dict[str, str] = field(default_factory=dict)
    columns: tuple[tuple[str, str], ...] = ()
    rows: list[dict[str, str]] = field(default_factory=list)


Handler = Callable[[JID, dict[str, Any]], Awaitable[Result]]


@dataclass(frozen=True)
class Command:
    """A published command: node, name, the form fields and the coroutine that runs it."""

    node: str
    name: str
    fields: tuple[Field, ...]
    handler: Handler
    instructions: str = ""


def validate(fields: tuple[Field, ...], values: dict[str, Any]) -> dict[str, Any]:
    """Check submitted ``values`` against ``fields``; raise ``bad-request`` naming what to fix."""
    clean: dict[str, Any] = {}
    for f in fields:
        value = values.get(f.var)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, "", []):
            if f.required:
                raise XMPPError("bad-request", text=f"field '{f.label}' ({f.var}) is required",
                                etype="modify")
            clean[f.var] = f.default
            continue
        if f.type == "boolean" and not isinstance(value, bool):
            if str(value).lower() not in ("1", "0", "true", "false"):
                raise XMPPError("bad-request", etype="modify",
                                text=f"field '{f.label}' must be true or false, not {value!r}")
            value = str(value).lower() in ("1", "true")
        if f.options and f.type == "list-single" and value not in f.options:
            raise XMPPError("bad-request", etype="modify",
                            text=f"field '{f.label}' must be one of {', '.join(f.options)}")
        clean[f.var] = value
    return clean


class CommandRegistry:
    """The ad-hoc commands of one component."""

    def __init__(self, component: SwitchboardComponent) -> None:
        self.component = component
        self.commands: dict[str, Command] = {}
        # slixmpp's XEP-0050 plugin empties the command list at every session bind
        component.add_event_handler("session_bind", self._announce_all)

    def publish(self, command: Command) -> None:
        """Offer ``command`` to every entity that may discover the component's commands."""
        self.commands[command.node] = command
        self._announce(command)

    def _announce(self, command: Command) -> None:
        self.component.plugin["xep_0050"].add_command(
            jid=self.component.boundjid, node=command.node, name=command.name,
            handler=self._start(command))

    def _announce_all(self, _jid: object) -> None:
        for command in self.commands.values():
            self._announce(command)

    def _start(self, command: Command) -> Callable[[Iq, dict[str, Any]], Awaitable[dict[str, Any]]]:
        forms = self.component.plugin["xep_0004"]

        async def start(iq: Iq, session: dict[str, Any]) -> dict[str, Any]:
            if not command.fields:  # nothing to ask: run at once
                return await self._complete(command, session, iq["from"], {})
            form = forms.make_form(ftype="form", title=command.name)
            if command.instructions:
                form["instructions"] = command.instructions
            for f in command.fields:
                form.add_field(var=f.var, ftype=f.type, label=f.label, required=f.required,
                               options=[{"label": o, "value": o} for o in f.options] or None,
                               value=f.default, desc=f.desc or None)
            session["payload"] = form
            session["next"] = functools.partial(self._submit, command)
            session["has_next"] = False
            session["allow_complete"] = True
            return session

        return start

    async def _submit(self, command: Command, payload: Any, session: dict[str, Any]) -> dict[str, Any]:
        forms = payload if isinstance(payload, list) else [payload]
        values: dict[str, Any] = {}
        for form in forms:
            if form is not None:
                values.update(form.get_values())
        return await self._complete(command, session, session["from"], values)

    async def _complete(self, command: Command, session: dict[str, Any], requester: JID,
                        values: dict[str, Any]) -> dict[str, Any]:
        result = await command.handler(requester, validate(command.fields, values))
        form = self.component.plugin["xep_0004"].make_form(ftype="result", title=command.name)
        if result.note:
            form["instructions"] = result.note
        for var, value in result.values.items():
            form.add_field(var=var, ftype="text-single", label=var, value=value)
        if result.columns:
            for var, label in result.columns:
                form.add_reported(var, ftype="text-single", label=label)
            for row in result.rows:
                form.add_item(row)
        session["payload"] = form
        session["next"] = None
        session["has_next"] = False
        return session
