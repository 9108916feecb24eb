"""The assistant's one configuration, mirroring the admin form of the ChatGPT integration.

Values come from environment variables ``SWITCHBOARD_ASSISTANT_<FIELD>`` (or an
``assistant.env`` file), and the providers' own standard variables are honoured too:
``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_ENDPOINT``,
``OPENAI_API_VERSION``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "SWITCHBOARD_ASSISTANT_"


def _env(name: str, *standard: str) -> AliasChoices:
    return AliasChoices(PREFIX + name.upper(), *standard)


class AssistantSettings(BaseSettings):
    """Everything the assistant account needs to log in and to reach its provider."""

    model_config = SettingsConfigDict(env_file="assistant.env", extra="ignore",
                                      use_attribute_docstrings=True, populate_by_name=True)

    # --- XMPP account --------------------------------------------------------------------------
    jid: str = Field("assistant@localhost", validation_alias=_env("jid"))
    """The assistant's XMPP account."""

    password: SecretStr = Field(SecretStr("assistant"), validation_alias=_env("password"))
    """Its password."""

    server: str = Field("127.0.0.1", validation_alias=_env("server"))
    """XMPP server address."""

    port: int = Field(5222, validation_alias=_env("port"))
    """XMPP client port (STARTTLS)."""

    ca_file: str | None = Field(None, validation_alias=_env("ca_file"))
    """Certificate to trust for the server (the stack's .state/tls/ca.pem); system CAs when unset."""

    nickname: str = Field("assistant", validation_alias=_env("nickname"))
    """Display name and room nickname."""

    # --- provider ------------------------------------------------------------------------------
    provider: Literal["openai", "azure", "compatible"] = Field("openai", validation_alias=_env("provider"))
    """``openai``, ``azure`` (Azure OpenAI) or ``compatible`` (any OpenAI-compatible endpoint)."""

    api_key: SecretStr | None = Field(
        None, validation_alias=_env("api_key", "OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"))
    """API key; without one the assistant runs and says in its presence that it is not configured."""

    base_url: str | None = Field(None, validation_alias=_env("base_url", "OPENAI_BASE_URL"))
    """Base URL of an OpenAI-compatible endpoint (``http://host:8000/v1``)."""

    resource_uri: str | None = Field(None, validation_alias=_env("resource_uri", "AZURE_OPENAI_ENDPOINT"))
    """Azure OpenAI resource URI (``https://NAME.openai.azure.com``)."""

    model: str = Field("gpt-4o-mini", validation_alias=_env("model"))
    """Model name (OpenAI, compatible) or deployment name (Azure)."""

    api_version: str = Field("2024-10-21", validation_alias=_env("api_version", "OPENAI_API_VERSION"))
    """Azure OpenAI API version."""

    image_model: str = Field("dall-e-3", validation_alias=_env("image_model"))
    """Image model (or Azure deployment) for DALL-E requests."""

    image_size: str = Field("1024x1024", validation_alias=_env("image_size"))
    """Size of generated images."""

    request_timeout: float = Field(60.0, validation_alias=_env("request_timeout"))
    """Seconds before a provider request is given up."""

    max_retries: int = Field(2, validation_alias=_env("max_retries"))
    """Retries (with backoff, honouring Retry-After) on rate limits, 5xx and network errors."""

    # --- behaviour -----------------------------------------------------------------------------
    keywords: str = Field("", validation_alias=_env("keywords"))
    """``;``-separated words that make the assistant answer in rooms (whole word, any case);
    default: its nickname with and without ``@``."""

    image_keywords: str = Field("draw;paint", validation_alias=_env("image_keywords"))
    """``;``-separated words that, starting a message, ask for an image."""

    system_prompt: str = Field(
        "You are a helpful assistant in a company chat. Answer briefly and precisely.",
        validation_alias=_env("system_prompt"))
    """Sent first with every request; never trimmed from the context."""

    allowed: str = Field("", validation_alias=_env("allowed"))
    """``;``-separated users (``bob@example.com``), domains (``@example.com``) and groups
    (``group:Sales``, the shared-roster groups the assistant sees); default: every user of its own
    domain."""

    daily_token_budget: int = Field(50_000, validation_alias=_env("daily_token_budget"))
    """Tokens each user may use per day (UTC); 0 for no limit."""

    max_context_tokens: int = Field(6_000, validation_alias=_env("max_context_tokens"))
    """Tokens of history sent with a question; the oldest messages go first, never the system prompt."""

    updates_per_second: float = Field(2.0, validation_alias=_env("updates_per_second"))
    """How often a streamed answer is corrected at most (XEP-0308)."""

    database_url: str | None = Field(None, validation_alias=_env("database_url", "SWITCHBOARD_DATABASE_URL"))
    """Where context and usage are kept; Switchboard's database by default."""

    # --- derived -------------------------------------------------------------------------------

    def keyword_list(self) -> list[str]:
        """Room keywords, lower-case; the nickname with and without ``@`` when none are set."""
        words = [w.strip().lower() for w in self.keywords.split(";") if w.strip()]
        return words or [self.nickname.lower(), "@" + self.nickname.lower()]

    def image_keyword_list(self) -> list[str]:
        """Image keywords, lower-case."""
        return [w.strip().lower() for w in self.image_keywords.split(";") if w.strip()]

    def allowed_list(self) -> list[str]:
        """The authorisation entries."""
        return [w.strip() for w in self.allowed.split(";") if w.strip()]

    def problem(self) -> str | None:
        """What keeps the assistant from answering, in words for its presence, or None."""
        if self.api_key is None or not self.api_key.get_secret_value():
            return "not configured: no API key"
        if self.provider == "azure" and not self.resource_uri:
            return "not configured: no Azure resource URI"
        if self.provider == "compatible" and not self.base_url:
            return "not configured: no base URL for the compatible endpoint"
        return None
