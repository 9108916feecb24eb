"""The fake OpenAI server behaves like the real API on the wire, as seen by the official clients.

Every test talks to :class:`tests.fake_openai.FakeOpenAI` through ``openai.AsyncOpenAI`` or
``openai.AsyncAzureOpenAI`` (or plain aiohttp for the raw wire format and image downloads).
"""

from __future__ import annotations

import base64
import json
import struct
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest

from .fake_openai import PNG_SIGNATURE, FakeOpenAI, estimate_tokens

KEY = "sk-test"
MODEL = "gpt-4o-mini"
API_VERSION = "2024-10-21"


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAI]:
    """A fresh fake server that requires the key ``sk-test``."""
    async with FakeOpenAI(api_key=KEY) as fake:
        yield fake


def user(text: str) -> list[Any]:
    """A conversation of one user message."""
    return [{"role": "user", "content": text}]


def client(server: FakeOpenAI, *, max_retries: int = 0, api_key: str = KEY) -> openai.AsyncOpenAI:
    """An OpenAI client aimed at ``server``."""
    return openai.AsyncOpenAI(api_key=api_key, base_url=server.base_url, max_retries=max_retries, timeout=10)


def azure_client(server: FakeOpenAI, *, azure_deployment: str | None = None) -> openai.AsyncAzureOpenAI:
    """An Azure OpenAI client aimed at ``server``."""
    return openai.AsyncAzureOpenAI(api_key=KEY, azure_endpoint=server.azure_endpoint, api_version=API_VERSION,
                                   azure_deployment=azure_deployment, max_retries=0, timeout=10)


def png_size(png: bytes) -> tuple[int, int]:
    """Check that ``png`` is a well-formed PNG (chunk CRCs, inflatable pixels) and return its size."""
    assert png.startswith(PNG_SIGNATURE)
    position, chunks = len(PNG_SIGNATURE), {}
    while position < len(png):
        (length,) = struct.unpack(">I", png[position:position + 4])
        kind, data = png[position + 4:position + 8], png[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", png[position + 8 + length:position + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF, kind
        chunks[kind] = data
        position += 12 + length
    assert position == len(png) and set(chunks) == {b"IHDR", b"IDAT", b"IEND"}
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour_type) == (8, 2)
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 3 * width)
    return width, height


async def test_json_completion_with_usage(server: FakeOpenAI) -> None:
    messages: list[Any] = [{"role": "system", "content": "Be brief."},
                           {"role": "user", "content": [{"type": "text", "text": "Hello there"}]}]
    async with client(server) as api:
        completion = await api.chat.completions.create(model=MODEL, messages=messages)

    reply = "You said: Hello there"
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == reply
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == estimate_tokens("Be brief.") + estimate_tokens("Hello there")
    assert completion.usage.completion_tokens == estimate_tokens(reply)
    usage = completion.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json["messages"] == messages


async def test_max_tokens_cuts_the_reply(server: FakeOpenAI) -> None:
    server.reply = lambda _request: "word " * 50
    async with client(server) as api:
        completion = await api.chat.completions.create(
            model=MODEL, max_tokens=3, messages=user("ping"))
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 3


async def test_streaming_concatenates_to_the_reply_with_usage(server: FakeOpenAI) -> None:
    reply = "Hello,  streaming world!\nSecond line ends with space "
    server.reply = lambda _request: reply
    messages = user("stream please")
    async with client(server) as api:
        stream = await api.chat.completions.create(model=MODEL, messages=messages, stream=True,
                                                   stream_options={"include_usage": True})
        async with stream:
            chunks = [chunk async for chunk in stream]
        plain = await api.chat.completions.create(model=MODEL, messages=messages, stream=True)
        async with plain:
            plain_chunks = [chunk async for chunk in plain]

    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    with_choices = [chunk for chunk in chunks if chunk.choices]
    contents = [chunk.choices[0].delta.content for chunk in with_choices if chunk.choices[0].delta.content]
    assert len(contents) >= 5
    assert "".join(contents) == reply
    assert with_choices[-1].choices[0].finish_reason == "stop"
    assert [chunk.usage is not None for chunk in chunks] == [False] * (len(chunks) - 1) + [True]
    final = chunks[-1]
    assert final.choices == [] and final.usage is not None
    assert final.usage.prompt_tokens == estimate_tokens("stream please")
    assert final.usage.completion_tokens == estimate_tokens(reply)
    assert final.usage.total_tokens == final.usage.prompt_tokens + final.usage.completion_tokens

    assert all(chunk.choices and chunk.usage is None for chunk in plain_chunks)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in plain_chunks) == reply


async def test_stream_wire_format(server: FakeOpenAI) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "stream_options": {"include_usage": True}}
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as http, http.post(
            f"{server.base_url}/chat/completions", json=body, headers=headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        raw = (await response.read()).decode()

    assert raw.endswith("\n\ndata: [DONE]\n\n")
    events = raw.split("\n\n")[:-1]
    assert all(event.startswith("data: ") and "\n" not in event for event in events)
    payloads = [json.loads(event[6:]) for event in events[:-1]]
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert payloads[-1]["choices"] == [] and payloads[-1]["usage"]["total_tokens"] > 0


async def test_delays_shape_the_stream(server: FakeOpenAI) -> None:
    server.reply = lambda _request: "one two three four"
    server.first_token_delay, server.chunk_delay = 0.2, 0.05
    async with client(server) as api:
        started = time.monotonic()
        stream = await api.chat.completions.create(model=MODEL, stream=True,
                                                   messages=user("x"))
        arrivals = []
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 4
    assert arrivals[0] >= 0.2
    assert arrivals[-1] - arrivals[0] >= 3 * 0.05 - 0.005


async def test_azure_client_uses_the_deployment_path(server: FakeOpenAI) -> None:
    server.deployments = {"chat-deployment"}
    async with azure_client(server) as api:
        completion = await api.chat.completions.create(
            model="chat-deployment", messages=user("from Azure"))
        stream = await api.chat.completions.create(
            model="chat-deployment", messages=user("streamed"), stream=True)
        async with stream:
            text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    async with azure_client(server, azure_deployment="chat-deployment") as api:
        fixed = await api.chat.completions.create(model="ignored", messages=user("x"))

    assert completion.choices[0].message.content == "You said: from Azure"
    assert text == "You said: streamed"
    assert fixed.choices[0].message.content == "You said: x"
    assert len(server.requests) == 3
    for request in server.requests:
        assert request.path == "/openai/deployments/chat-deployment/chat/completions"
        assert request.deployment == "chat-deployment"
        assert request.api_version == API_VERSION and request.query == {"api-version": API_VERSION}
        assert request.headers["api-key"] == KEY
        assert "authorization" not in request.headers


async def test_unknown_deployment_is_not_found(server: FakeOpenAI) -> None:
    server.deployments = {"chat-deployment"}
    async with azure_client(server) as api:
        with pytest.raises(openai.NotFoundError) as raised:
            await api.chat.completions.create(model="other", messages=user("x"))
    assert raised.value.status_code == 404
    assert raised.value.code == "DeploymentNotFound"
    assert server.requests[0].deployment == "other"


async def test_azure_path_requires_api_version(server: FakeOpenAI) -> None:
    base_url = f"{server.azure_endpoint}/openai/deployments/chat-deployment"
    async with openai.AsyncOpenAI(api_key=KEY, base_url=base_url, max_retries=0) as api:
        with pytest.raises(openai.BadRequestError) as raised:
            await api.chat.completions.create(model=MODEL, messages=user("x"))
    assert raised.value.param == "api-version"


async def test_image_generation_b64(server: FakeOpenAI) -> None:
    async with client(server) as api:
        result = await api.images.generate(model="dall-e-3", prompt="a red square", n=2, size="16x24",
                                           response_format="b64_json")
    assert result.data is not None and len(result.data) == 2
    for image in result.data:
        assert image.url is None and image.b64_json is not None
        png = base64.b64decode(image.b64_json)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert png_size(png) == (16, 24)
        assert image.revised_prompt and "a red square" in image.revised_prompt
    assert server.requests[0].path == "/v1/images/generations"


async def test_image_generation_url(server: FakeOpenAI) -> None:
    async with client(server) as api:
        result = await api.images.generate(model="dall-e-3", prompt="a blue square", size="1024x1024",
                                           response_format="url")
    assert result.data is not None
    [image] = result.data
    assert image.b64_json is None and image.url is not None
    assert image.url.startswith(server.origin + "/files/")
    async with aiohttp.ClientSession() as http, http.get(image.url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "image/png"
        png = await response.read()
    assert png_size(png) == (1024, 1024)


async def test_azure_image_generation(server: FakeOpenAI) -> None:
    async with azure_client(server) as api:
        result = await api.images.generate(model="image-deployment", prompt="a cat", size="8x8")
    assert result.data is not None and result.data[0].b64_json is not None
    assert png_size(base64.b64decode(result.data[0].b64_json)) == (8, 8)
    [request] = server.requests
    assert request.path == "/openai/deployments/image-deployment/images/generations"
    assert request.api_version == API_VERSION


async def test_models(server: FakeOpenAI) -> None:
    async with client(server) as api:
        listing = await api.models.list()
        model = await api.models.retrieve(MODEL)
        with pytest.raises(openai.NotFoundError) as raised:
            await api.models.retrieve("no-such-model")
    assert [entry.id for entry in listing.data] == [MODEL]
    assert model.id == MODEL and model.object == "model"
    assert raised.value.code == "model_not_found"


async def test_wrong_key_is_an_authentication_error(server: FakeOpenAI) -> None:
    async with client(server, api_key="sk-wrong", max_retries=2) as api:
        with pytest.raises(openai.AuthenticationError) as raised:
            await api.chat.completions.create(model=MODEL, messages=user("x"))
    assert raised.value.status_code == 401
    assert raised.value.type == "invalid_request_error"
    assert raised.value.code == "invalid_api_key"
    assert "sk-wrong" not in raised.value.message
    assert len(server.requests) == 1


async def test_rate_limit_is_retried_after_retry_after(server: FakeOpenAI) -> None:
    server.fail_next(429, retry_after=0.1)
    async with client(server, max_retries=1) as api:
        completion = await api.chat.completions.create(model=MODEL, messages=user("x"))
    assert completion.choices[0].message.content == "You said: x"
    attempts = server.requests_to("/v1/chat/completions")
    assert len(attempts) == 2
    assert [attempt.headers["x-stainless-retry-count"] for attempt in attempts] == ["0", "1"]
    # The client waited the 0.1 s of retry-after, not its own back-off of 0.375 s or more.
    assert 0.095 <= attempts[1].received_at - attempts[0].received_at < 0.35
    assert server.pending_failures == 0


async def test_rate_limit_error_body(server: FakeOpenAI) -> None:
    server.fail_next(429, retry_after=2)
    async with client(server) as api:
        with pytest.raises(openai.RateLimitError) as raised:
            await api.chat.completions.create(model=MODEL, messages=user("x"))
    assert raised.value.response.headers["retry-after"] == "2"
    assert raised.value.type == "rate_limit_exceeded"
    assert raised.value.code == "rate_limit_exceeded"


async def test_server_errors_without_retries(server: FakeOpenAI) -> None:
    server.fail_next(500, times=5)
    async with client(server, max_retries=0) as api:
        with pytest.raises(openai.InternalServerError) as raised:
            await api.chat.completions.create(model=MODEL, messages=user("x"))
    assert raised.value.status_code == 500
    assert raised.value.type == "server_error"
    assert len(server.requests) == 1
    assert server.pending_failures == 4


async def test_outage_and_recovery(server: FakeOpenAI) -> None:
    port = server.port
    messages = user("x")
    async with client(server) as api:
        await api.chat.completions.create(model=MODEL, messages=messages)
        await server.stop_listening()
        assert not server.listening
        with pytest.raises(openai.APIConnectionError):
            await api.chat.completions.create(model=MODEL, messages=messages)
        await server.start_listening()
        completion = await api.chat.completions.create(model=MODEL, messages=messages)
    assert server.port == port
    assert completion.choices[0].message.content == "You said: x"
    assert len(server.requests) == 2


async def test_sequential_requests_share_one_connection(server: FakeOpenAI) -> None:
    messages = user("x")
    async with client(server) as api:
        await api.chat.completions.create(model=MODEL, messages=messages)
        stream = await api.chat.completions.create(model=MODEL, messages=messages, stream=True)
        async with stream:
            async for _chunk in stream:
                pass
        await api.chat.completions.create(model=MODEL, messages=messages)
    assert len(server.requests) == 3
    assert server.connections == 1

    async with client(server) as other:
        await other.models.list()
    assert server.connections == 2
