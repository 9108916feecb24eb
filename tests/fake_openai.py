"""A local HTTP server that speaks the OpenAI REST wire format, for tests and benchmarks.

It stands in for the paid API and nothing else: clients reach it through the official ``openai``
package's ``base_url`` (OpenAI shape, ``/v1/...``) or ``azure_endpoint`` (Azure OpenAI shape,
``/openai/deployments/{deployment}/...?api-version=...``), so everything between the client and
the socket is the real thing. It implements:

* ``POST /v1/chat/completions`` and the Azure deployment path, as a JSON ``chat.completion`` or,
  with ``"stream": true``, as server-sent events (``data: {...}`` lines of
  ``chat.completion.chunk`` objects, a usage chunk when ``stream_options.include_usage`` is set,
  and ``data: [DONE]``);
* ``POST /v1/images/generations`` and the Azure deployment path, with real PNG images either
  inline (``b64_json``) or as URLs served by this server under ``GET /files/{id}.png``;
* ``GET /v1/models`` and ``GET /v1/models/{id}`` (and the Azure ``/openai/models`` equivalents);
* API-key checks, injected failures (:meth:`FakeOpenAI.fail_next`), artificial latency, an outage
  switch (:meth:`FakeOpenAI.stop_listening` / :meth:`FakeOpenAI.start_listening`) and a record of
  every request and of the TCP connections that carried them.

Error responses have the OpenAI shape ``{"error": {"message", "type", "param", "code"}}``.
Request bodies are kept in memory in :attr:`FakeOpenAI.requests` and never logged.

Usage::

    async with FakeOpenAI(api_key="sk-test") as server:
        client = openai.AsyncOpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
        ...
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import socket
import struct
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)

ReplyFunction = Callable[[dict[str, Any]], str]
"""Computes the assistant's reply from the decoded JSON body of a chat completion request."""

DEFAULT_MODEL = "gpt-4o-mini"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_SIDE = 4096
"""Largest width or height accepted in an image request's ``size``."""
DEFAULT_IMAGE_SIZE = (1024, 1024)
"""Dimensions of generated images when the request's ``size`` is absent or ``auto``."""

_MODEL_CREATED = 1721172741
_JSON_SEPARATORS = (",", ":")
_AZURE_DEPLOYMENT_PATH = re.compile(r"^/openai/deployments/([^/]+)/")
_WORDS = re.compile(r"\s*\S+|\s+")
_SIZE = re.compile(r"^(\d+)x(\d+)$")

_FAILURE_KINDS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", "unsupported_country_region_territory",
          "Country, region, or territory not supported."),
    404: ("invalid_request_error", "model_not_found",
          "The model does not exist or you do not have access to it."),
    408: ("timeout", None, "Request timed out."),
    409: ("invalid_request_error", "conflict", "The request conflicts with the current state."),
    422: ("invalid_request_error", None, "Unprocessable entity."),
    429: ("rate_limit_exceeded", "rate_limit_exceeded",
          "Rate limit reached for requests. Please try again later."),
}
"""``(type, code, default message)`` of an injected failure, by HTTP status; 5xx is ``server_error``."""

_SERVER_ERROR_MESSAGES: dict[int, str] = {
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
    504: "Gateway timeout.",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it (recorded before authentication)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Header names lower-cased; values as sent (including the API key)."""
    json: Any
    """The decoded JSON body, or None when there was no body or it was not JSON."""
    received_at: float
    """:func:`time.monotonic` when the request arrived."""
    peer: tuple[str, int] | None
    """The client's address and port, which identify the TCP connection."""

    @property
    def deployment(self) -> str | None:
        """The Azure deployment named in the path, or None for OpenAI-shaped paths."""
        match = _AZURE_DEPLOYMENT_PATH.match(self.path)
        return match.group(1) if match else None

    @property
    def api_version(self) -> str | None:
        """The ``api-version`` query parameter (Azure), if any."""
        return self.query.get("api-version")


@dataclass
class _Failure:
    """A pending injected failure."""

    status: int
    remaining: int
    retry_after: float | None
    message: str


def default_reply(request_json: dict[str, Any]) -> str:
    """``"You said: "`` followed by the text of the last user message."""
    messages = request_json.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return "You said: " + message_text(message.get("content"))
    return "You said: "


def message_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content
                       if isinstance(part, dict) and part.get("type") in ("text", "input_text"))
    return ""


def estimate_tokens(text: str) -> int:
    """The deterministic token estimate used for ``usage``: a token per four characters, plus one."""
    return len(text) // 4 + 1


def split_words(text: str) -> list[str]:
    """Split ``text`` into stream fragments, one word each with its leading whitespace.

    ``"".join(split_words(text)) == text`` always holds.
    """
    return _WORDS.findall(text)


@lru_cache(maxsize=64)
def make_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid single-colour 8-bit RGB PNG of ``width`` × ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + bytes(rgb) * width
    pixels = zlib.compress(row * height)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _colour(prompt: str, index: int) -> tuple[int, int, int]:
    """A deterministic colour for the ``index``-th image of ``prompt``."""
    digest = hashlib.sha256(f"{index}:{prompt}".encode()).digest()
    return digest[0], digest[1], digest[2]


def _dumps(value: Any) -> str:
    """Compact JSON, as the API sends it."""
    return json.dumps(value, separators=_JSON_SEPARATORS, ensure_ascii=False)


def _request_id() -> str:
    """A fresh ``x-request-id``."""
    return "req_" + uuid.uuid4().hex


def error_body(message: str, type_: str, *, param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    """An OpenAI error body."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error_response(status: int, message: str, type_: str, *, param: str | None = None,
                   code: str | None = None, headers: dict[str, str] | None = None) -> web.Response:
    """An HTTP error response with an OpenAI error body."""
    return web.Response(status=status, text=_dumps(error_body(message, type_, param=param, code=code)),
                        content_type="application/json",
                        headers={"x-request-id": _request_id(), **(headers or {})})


class FakeOpenAI:
    """A local OpenAI-compatible HTTP server on 127.0.0.1; an async context manager.

    ``async with FakeOpenAI(api_key="sk-test") as server:`` starts it on a free port in the
    running event loop. Point the ``openai`` clients at :attr:`base_url` (``AsyncOpenAI``) or
    :attr:`azure_endpoint` (``AsyncAzureOpenAI``). The attributes below may be changed at any time.
    """

    def __init__(self, api_key: str | None = None, *, reply: ReplyFunction | None = None,
                 first_token_delay: float = 0.0, chunk_delay: float = 0.0, image_delay: float = 0.0,
                 deployments: set[str] | None = None, models: list[str] | None = None) -> None:
        self.api_key: str | None = api_key
        """When set, requests must carry ``Authorization: Bearer <key>`` or ``api-key: <key>``."""
        self.reply: ReplyFunction = reply or default_reply
        """Computes the reply text of a chat completion from its request body."""
        self.first_token_delay: float = first_token_delay
        """Seconds before the first chunk of a stream, or before a JSON chat completion."""
        self.chunk_delay: float = chunk_delay
        """Seconds between successive content chunks of a stream."""
        self.image_delay: float = image_delay
        """Seconds before an image generation answers."""
        self.deployments: set[str] = deployments if deployments is not None else set()
        """Azure deployments that exist; when empty, every deployment name is accepted."""
        self.models: list[str] = models if models is not None else [DEFAULT_MODEL]
        """The models listed by ``GET /v1/models``."""
        self.requests: list[RecordedRequest] = []
        """Every request received, in order of arrival."""
        self._peers: set[tuple[str, int]] = set()
        self._failures: deque[_Failure] = deque()
        self._files: dict[str, bytes] = {}
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self._port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Start serving on a free loopback port (``async with`` does this)."""
        if self._runner is not None:
            raise RuntimeError("FakeOpenAI is already started")
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat_completions)
        app.router.add_post("/v1/images/generations", self._image_generations)
        app.router.add_post("/openai/deployments/{deployment}/images/generations", self._image_generations)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/v1/models/{model}", self._retrieve_model)
        app.router.add_get("/openai/models", self._list_models)
        app.router.add_get("/openai/models/{model}", self._retrieve_model)
        app.router.add_get("/files/{file_id}.png", self._file)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        self._runner = runner
        try:
            await self.start_listening()
        except BaseException:
            self._runner = None
            await runner.cleanup()
            raise

    async def aclose(self) -> None:
        """Drop all connections and stop the server (``async with`` does this)."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await self._stop_site()
        self._drop_connections(runner)
        await runner.cleanup()

    async def stop_listening(self) -> None:
        """Simulate an outage: close the listening socket and every open connection.

        Clients then see refused connections (new ones) or resets (pooled ones) until
        :meth:`start_listening`. Requests in progress are abandoned.
        """
        await self._stop_site()
        if self._runner is not None:
            self._drop_connections(self._runner)

    async def start_listening(self) -> None:
        """Listen again, on the same port as before (a free one the first time)."""
        if self._runner is None:
            raise RuntimeError("FakeOpenAI is not started")
        if self._site is not None:
            return
        sock = self._bind(self._port or 0)
        site = web.SockSite(self._runner, sock)
        try:
            await site.start()
        except BaseException:
            sock.close()
            raise
        self._site = site
        self._port = sock.getsockname()[1]

    @staticmethod
    def _bind(port: int) -> socket.socket:
        """A loopback TCP socket bound to ``port``; SO_REUSEADDR lets an outage end on the same port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _stop_site(self) -> None:
        """Close the listening socket, if open."""
        site, self._site = self._site, None
        if site is not None:
            await site.stop()

    @staticmethod
    def _drop_connections(runner: web.AppRunner) -> None:
        """Close every accepted connection, idle or busy."""
        server = runner.server
        if server is not None:
            for connection in server.connections:
                connection.force_close()

    # -- addresses and observations ----------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port; it stays the same across :meth:`stop_listening`/:meth:`start_listening`."""
        if self._port is None:
            raise RuntimeError("FakeOpenAI is not started")
        return self._port

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The ``base_url`` for ``openai.AsyncOpenAI``: ``http://127.0.0.1:PORT/v1``."""
        return self.origin + "/v1"

    @property
    def azure_endpoint(self) -> str:
        """The ``azure_endpoint`` for ``openai.AsyncAzureOpenAI``: ``http://127.0.0.1:PORT``."""
        return self.origin

    @property
    def listening(self) -> bool:
        """Whether the server accepts connections now."""
        return self._site is not None

    @property
    def connections(self) -> int:
        """How many distinct TCP connections (client address and port) have carried requests."""
        return len(self._peers)

    @property
    def pending_failures(self) -> int:
        """How many injected failures are still to be served."""
        return sum(failure.remaining for failure in self._failures)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The recorded requests whose path is ``path``."""
        return [request for request in self.requests if request.path == path]

    def reset(self) -> None:
        """Forget recorded requests and connections, and cancel pending injected failures."""
        self.requests.clear()
        self._peers.clear()
        self._failures.clear()

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None,
                  message: str | None = None) -> None:
        """Make the next ``times`` authenticated API requests fail with HTTP ``status``.

        The body is an OpenAI error: 429 is ``rate_limit_exceeded``, 5xx ``server_error``, 404
        ``model_not_found`` and so on; ``message`` replaces the default text. ``retry_after`` (seconds)
        is sent as the ``retry-after`` header. Image downloads (``/files``) never fail. Calls queue up:
        each one's failures follow those of the calls before it.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (4xx or 5xx), not {status}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if message is None:
            message = (_FAILURE_KINDS[status][2] if status in _FAILURE_KINDS
                       else _SERVER_ERROR_MESSAGES.get(status, f"Injected failure with status {status}."))
        self._failures.append(_Failure(status, times, retry_after, message))

    # -- request pipeline --------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record the request, then check the key, the route and injected failures."""
        body, _ = await self._read_json(request)
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        peer = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) and len(peer) >= 2 else None
        if peer is not None:
            self._peers.add(peer)
        self.requests.append(RecordedRequest(
            method=request.method, path=request.path, query=dict(request.query),
            headers={name.lower(): value for name, value in request.headers.items()},
            json=body, received_at=time.monotonic(), peer=peer))
        log.debug("fake OpenAI: %s %s", request.method, request.path)

        if request.path.startswith("/files/"):
            return await handler(request)
        if not self._authorized(request):
            return self._unauthorized(request)
        if request.match_info.http_exception is not None:
            return error_response(request.match_info.http_exception.status,
                                  f"Invalid URL ({request.method} {request.path})", "invalid_request_error")
        failure = self._take_failure()
        if failure is not None:
            return self._failure_response(failure)
        try:
            return await handler(request)
        except (web.HTTPException, asyncio.CancelledError, ConnectionError):
            raise
        except Exception:
            log.exception("fake OpenAI: %s %s failed", request.method, request.path)
            return error_response(500, _SERVER_ERROR_MESSAGES[500], "server_error")

    @staticmethod
    async def _read_json(request: web.Request) -> tuple[Any, bool]:
        """The decoded JSON body (None if absent) and whether it was absent or valid JSON."""
        if not request.body_exists:
            return None, True
        raw = await request.read()
        if not raw:
            return None, True
        try:
            return json.loads(raw), True
        except ValueError:
            return None, False

    def _authorized(self, request: web.Request) -> bool:
        """Whether the request carries the API key, as a bearer token or an ``api-key`` header."""
        if self.api_key is None:
            return True
        expected = self.api_key.encode()
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:].strip().encode(), expected):
            return True
        return hmac.compare_digest(request.headers.get("api-key", "").encode(), expected)

    @staticmethod
    def _unauthorized(request: web.Request) -> web.Response:
        """401 for a missing or wrong key (the key itself is never echoed)."""
        if "Authorization" in request.headers or "api-key" in request.headers:
            message = ("Incorrect API key provided. You can find your API key at "
                       "https://platform.openai.com/account/api-keys.")
        else:
            message = ("You didn't provide an API key. You need to provide your API key in an "
                       "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
        return error_response(401, message, "invalid_request_error", code="invalid_api_key")

    def _take_failure(self) -> _Failure | None:
        """Consume one injected failure, if any is pending."""
        if not self._failures:
            return None
        failure = self._failures[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            self._failures.popleft()
        return failure

    @staticmethod
    def _failure_response(failure: _Failure) -> web.Response:
        """The error response of an injected failure."""
        if failure.status >= 500:
            type_, code = "server_error", None
        else:
            type_, code, _ = _FAILURE_KINDS.get(failure.status, ("invalid_request_error", None, ""))
        headers: dict[str, str] = {}
        if failure.retry_after is not None:
            seconds = float(failure.retry_after)
            headers["retry-after"] = str(int(seconds)) if seconds.is_integer() else repr(seconds)
        return error_response(failure.status, failure.message, type_, code=code, headers=headers)

    def _azure_check(self, request: web.Request) -> web.Response | None:
        """For Azure paths: 400 without ``api-version``, 404 for a deployment that does not exist."""
        if not request.path.startswith("/openai/"):
            return None
        if not request.query.get("api-version"):
            return error_response(400, "Missing required query parameter 'api-version'.",
                                  "invalid_request_error", param="api-version",
                                  code="missing_required_parameter")
        deployment = request.match_info.get("deployment")
        if deployment is not None and self.deployments and deployment not in self.deployments:
            return error_response(404, "The API deployment for this resource does not exist. If you created "
                                       "the deployment within the last 5 minutes, please wait a moment and "
                                       "try again.", "invalid_request_error", code="DeploymentNotFound")
        return None

    @classmethod
    async def _json_body(cls, request: web.Request) -> dict[str, Any] | web.Response:
        """The request's JSON object, or a 400 response (aiohttp keeps the body, so it is read once)."""
        body, valid = await cls._read_json(request)
        if not valid:
            return error_response(400, "We could not parse the JSON body of your request. (HINT: This likely "
                                       "means you aren't using your HTTP library correctly. The OpenAI API "
                                       "expects a JSON payload.)", "invalid_request_error")
        if not isinstance(body, dict):
            return error_response(400, "The request body must be a JSON object.", "invalid_request_error")
        return body

    async def _api_body(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The JSON body of an API request, or the error response (Azure checks, bad JSON)."""
        refusal = self._azure_check(request)
        if refusal is not None:
            return refusal
        return await self._json_body(request)

    # -- chat completions --------------------------------------------------------------------

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/chat/completions`` and its Azure equivalent."""
        body = await self._api_body(request)
        if isinstance(body, web.Response):
            return body
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return error_response(400, "[] is too short - 'messages'", "invalid_request_error",
                                  param="messages", code="empty_array")
        model = body.get("model") or request.match_info.get("deployment")
        if not isinstance(model, str) or not model:
            return error_response(400, "you must provide a model parameter", "invalid_request_error")
        n = body.get("n")
        n = 1 if n is None else n
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128:
            return error_response(400, f"{n!r} is not valid for 'n': expected an integer from 1 to 128.",
                                  "invalid_request_error", param="n", code="invalid_value")

        text = self.reply(body)
        finish_reason = "stop"
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1 \
                and estimate_tokens(text) > limit:
            text, finish_reason = text[:4 * limit - 1], "length"
        prompt_tokens = sum(estimate_tokens(message_text(m.get("content")))
                            for m in messages if isinstance(m, dict))
        completion_tokens = n * estimate_tokens(text)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }
        common: dict[str, Any] = {"id": "chatcmpl-" + uuid.uuid4().hex, "created": int(time.time()),
                                  "model": model, "system_fingerprint": "fp_fake"}

        if self.first_token_delay > 0:
            await asyncio.sleep(self.first_token_delay)
        if body.get("stream") is True:
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            return await self._stream(request, common, text, n, finish_reason,
                                      usage if include_usage else None)
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
        completion = {
            **common, "object": "chat.completion", "service_tier": "default",
            "choices": [{"index": index, "logprobs": None, "finish_reason": finish_reason, "message": message}
                        for index in range(n)],
            "usage": usage,
        }
        return web.Response(text=_dumps(completion), content_type="application/json",
                            headers={"x-request-id": _request_id(), "openai-processing-ms": "1"})

    async def _stream(self, request: web.Request, common: dict[str, Any], text: str, n: int,
                      finish_reason: str, usage: dict[str, Any] | None) -> web.StreamResponse:
        """Send a chat completion as server-sent events."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                               "Cache-Control": "no-cache", "x-request-id": _request_id()})
        await response.prepare(request)
        extra = {"usage": None} if usage is not None else {}

        def chunk(choices: list[dict[str, Any]], **fields: Any) -> bytes:
            event = {**common, "object": "chat.completion.chunk", "service_tier": "default",
                     "choices": choices, **extra, **fields}
            return ("data: " + _dumps(event) + "\n\n").encode()

        def delta(index: int, content: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"index": index, "delta": content, "logprobs": None, "finish_reason": finish}

        def events() -> Iterator[tuple[bool, bytes]]:
            """(whether the chunk delay precedes it, the event) for every event of the stream."""
            for index in range(n):
                yield False, chunk([delta(index, {"role": "assistant", "content": "", "refusal": None})])
            for position, word in enumerate(split_words(text)):
                for index in range(n):
                    yield position > 0 and index == 0, chunk([delta(index, {"content": word})])
            for index in range(n):
                yield False, chunk([delta(index, {}, finish_reason)])
            if usage is not None:
                yield False, chunk([], usage=usage)
            yield False, b"data: [DONE]\n\n"

        for delayed, event in events():
            if delayed and self.chunk_delay > 0:
                await asyncio.sleep(self.chunk_delay)
            await response.write(event)
        await response.write_eof()
        return response

    # -- images ------------------------------------------------------------------------------

    async def _image_generations(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/images/generations`` and its Azure equivalent."""
        body = await self._api_body(request)
        if isinstance(body, web.Response):
            return body
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return error_response(400, "Missing required parameter: 'prompt'.", "invalid_request_error",
                                  param="prompt", code="missing_required_parameter")
        n = body.get("n")
        n = 1 if n is None else n
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
            return error_response(400, f"{n!r} is not valid for 'n': expected an integer from 1 to 10.",
                                  "invalid_request_error", param="n", code="invalid_value")
        response_format = body.get("response_format") or "b64_json"
        if response_format not in ("b64_json", "url"):
            return error_response(400, f"Invalid value: {response_format!r}. Supported values are: "
                                       "'url' and 'b64_json'.", "invalid_request_error",
                                  param="response_format", code="invalid_value")
        size = body.get("size") or "auto"
        match = _SIZE.match(size) if isinstance(size, str) else None
        if size == "auto":
            width, height = DEFAULT_IMAGE_SIZE
        elif match and all(1 <= int(side) <= MAX_IMAGE_SIDE for side in match.groups()):
            width, height = int(match.group(1)), int(match.group(2))
        else:
            return error_response(400, f"Invalid value: {size!r}. Expected 'auto' or 'WIDTHxHEIGHT' with "
                                       f"sides from 1 to {MAX_IMAGE_SIDE}.", "invalid_request_error",
                                  param="size", code="invalid_value")

        if self.image_delay > 0:
            await asyncio.sleep(self.image_delay)
        data: list[dict[str, Any]] = []
        for index in range(n):
            png = make_png(width, height, _colour(prompt, index))
            item: dict[str, Any] = {"revised_prompt": f"A flat single-colour square for: {prompt}"}
            if response_format == "url":
                file_id = "img-" + uuid.uuid4().hex
                self._files[file_id] = png
                item["url"] = f"{self.origin}/files/{file_id}.png"
            else:
                item["b64_json"] = base64.b64encode(png).decode("ascii")
            data.append(item)
        return web.Response(text=_dumps({"created": int(time.time()), "data": data}),
                            content_type="application/json", headers={"x-request-id": _request_id()})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """``GET /files/{id}.png``: an image generated with ``response_format="url"``."""
        png = self._files.get(request.match_info["file_id"])
        if png is None:
            raise web.HTTPNotFound()
        return web.Response(body=png, content_type="image/png")

    # -- models ------------------------------------------------------------------------------

    @staticmethod
    def _model(model: str) -> dict[str, Any]:
        """A model object."""
        return {"id": model, "object": "model", "created": _MODEL_CREATED, "owned_by": "system"}

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/models``."""
        refusal = self._azure_check(request)
        if refusal is not None:
            return refusal
        listing = {"object": "list", "data": [self._model(model) for model in self.models]}
        return web.Response(text=_dumps(listing), content_type="application/json",
                            headers={"x-request-id": _request_id()})

    async def _retrieve_model(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/models/{id}``."""
        refusal = self._azure_check(request)
        if refusal is not None:
            return refusal
        model = request.match_info["model"]
        if model not in self.models:
            return error_response(404, f"The model '{model}' does not exist", "invalid_request_error",
                                  param="model", code="model_not_found")
        return web.Response(text=_dumps(self._model(model)), content_type="application/json",
                            headers={"x-request-id": _request_id()})
