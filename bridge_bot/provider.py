"""The language-model provider: OpenAI, Azure OpenAI or any OpenAI-compatible endpoint.

One long-lived client per process (connections are pooled and reused); every stream is closed
with ``async with``. Provider failures become :class:`ProviderError` with a short text a user can
read and a state for the assistant's presence.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx2 as httpx
import openai

from .config import AssistantSettings


@dataclass
class ProviderError(Exception):
    """A request failed; ``text`` is what the user is told, ``presence`` what the status says."""

    text: str
    presence: str | None = None
    """``dnd``/``away`` reason for the assistant's presence, or None when it stays ready."""

    def __str__(self) -> str:
        return self.text


@dataclass
class Completion:
    """What a finished answer cost, and when its first words came."""

    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    first_token_at: float | None = None
    chunks: list[str] = field(default_factory=list, repr=False)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def estimate_tokens(text: str) -> int:
    """A provider-independent token estimate (about four characters a token) for trimming and
    budgets when the provider reports no usage; no tokenizer download needed."""
    return len(text) // 4 + 1


class Provider:
    """Chat completions and image generation against the configured endpoint."""

    def __init__(self, settings: AssistantSettings) -> None:
        self.settings = settings
        key = settings.api_key.get_secret_value() if settings.api_key else "unset"
        self.client: openai.AsyncOpenAI
        if settings.provider == "azure":
            self.client = openai.AsyncAzureOpenAI(
                azure_endpoint=settings.resource_uri or "", api_version=settings.api_version,
                api_key=key, max_retries=settings.max_retries, timeout=settings.request_timeout)
        else:
            self.client = openai.AsyncOpenAI(
                base_url=settings.base_url or None, api_key=key, max_retries=settings.max_retries,
                timeout=settings.request_timeout)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.close()

    async def stream_chat(self, messages: list[dict[str, str]]) -> AsyncIterator[str | Completion]:
        """Yield the answer's text fragments as they arrive, then one :class:`Completion`."""
        done = Completion()
        try:
            stream = await self.client.chat.completions.create(
                model=self.settings.model, messages=messages, stream=True,
                stream_options={"include_usage": True})  # type: ignore[call-overload]
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        done.prompt_tokens = chunk.usage.prompt_tokens
                        done.completion_tokens = chunk.usage.completion_tokens
                    for choice in chunk.choices:
                        text = choice.delta.content if choice.delta else None
                        if text:
                            if done.first_token_at is None:
                                done.first_token_at = time.perf_counter()
                            done.chunks.append(text)
                            yield text
        except openai.OpenAIError as exc:
            raise self.explain(exc) from exc
        done.text = "".join(done.chunks)
        if not done.prompt_tokens:
            done.prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages)
        if not done.completion_tokens:
            done.completion_tokens = estimate_tokens(done.text)
        yield done

    async def image(self, prompt: str) -> tuple[bytes, str]:
        """Generate one image for ``prompt``; returns (PNG bytes, revised prompt or the prompt)."""
        try:
            result = await self.client.images.generate(
                model=self.settings.image_model, prompt=prompt, n=1,
                size=self.settings.image_size, response_format="b64_json")
            data = result.data[0] if result.data else None
            if data is None:
                raise ProviderError("The provider returned no image.")
            if data.b64_json:
                image = base64.b64decode(data.b64_json)
            elif data.url:
                async with httpx.AsyncClient(timeout=self.settings.request_timeout) as http:
                    response = await http.get(data.url)
                    response.raise_for_status()
                    image = response.content
            else:
                raise ProviderError("The provider returned an image without data.")
            return image, data.revised_prompt or prompt
        except openai.OpenAIError as exc:
            raise self.explain(exc) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"The image could not be fetched from the provider ({type(exc).__name__}).",
                                ) from exc

    async def check(self) -> None:
        """Reach the provider with the smallest possible request; raise ProviderError if not."""
        try:
            await self.client.chat.completions.create(
                model=self.settings.model, max_tokens=1,
                messages=[{"role": "user", "content": "ping"}])
        except openai.OpenAIError as exc:
            raise self.explain(exc) from exc

    def explain(self, exc: openai.OpenAIError) -> ProviderError:
        """Turn a provider failure into words for the user and a presence state."""
        model = self.settings.model
        if isinstance(exc, openai.AuthenticationError):
            return ProviderError("The provider refused my API key, so I cannot answer. "
                                 "An administrator needs to fix my configuration.",
                                 "provider refused the API key")
        if isinstance(exc, openai.PermissionDeniedError):
            return ProviderError("The provider denies me access to this model.",
                                 "provider denies access")
        if isinstance(exc, openai.NotFoundError):
            kind = "deployment" if self.settings.provider == "azure" else "model"
            return ProviderError(f"The {kind} '{model}' does not exist at the provider. "
                                 "An administrator needs to fix my configuration.",
                                 f"{kind} {model} not found")
        if isinstance(exc, openai.RateLimitError):
            retry = exc.response.headers.get("retry-after") if exc.response is not None else None
            when = f" in {retry} s" if retry else " in a minute"
            return ProviderError(f"The provider is rate-limiting me right now. Please ask again{when}.")
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError("The provider did not answer in time. Please ask again.",
                                 "provider unreachable")
        if isinstance(exc, openai.APIConnectionError):
            return ProviderError("I cannot reach the provider at the moment. Please ask again later.",
                                 "provider unreachable")
        if isinstance(exc, openai.APIStatusError):
            if exc.status_code >= 500:
                return ProviderError(f"The provider has a problem (HTTP {exc.status_code}). "
                                     "Please ask again later.")
            return ProviderError(f"The provider rejected the request (HTTP {exc.status_code}).")
        return ProviderError(f"The provider request failed ({type(exc).__name__}).")
