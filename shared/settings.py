"""Process configuration, read once from the environment (prefix ``WAMUX_``) in each ``main``.

Nothing else in wamux reads ``os.environ``: a settings object is built at start-up and passed down. Each process
has its own class (``router/settings.py``, ``gateway/settings.py``, …): :class:`Settings`, what every process
needs, plus only the groups that process uses, so no process holds a secret it does not use. A keyword the
class does not have is an error (a test configuring a process with something it never reads fails loudly);
``WAMUX_*`` variables meant for other processes are ignored (compose gives every service the same ones).
Secrets are ``SecretStr`` so that they never appear in a repr, a log line or a traceback.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

_CONFIG = SettingsConfigDict(env_prefix="WAMUX_", env_file=None, extra="forbid", frozen=True)


class Settings(BaseSettings):
    """The broker, the database, logging: every process, and all that a CLI such as ``shared.migrate`` needs."""

    model_config = _CONFIG

    service: str = "wamux"
    log_level: str = "INFO"

    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    # Names every exchange and queue: "wamux.events", "wamux.router", … (tests use a random one).
    broker_prefix: str = "wamux"
    publish_timeout_s: float = 5.0
    # Envelopes of one type published within one turn of the event loop leave as one message (a lines group,
    # shared/messaging/wire.py); false: one message each, for a CRM that reads one JSON envelope per message.
    publish_groups: bool = True
    connect_timeout_s: float = 10.0
    reconnect_interval_s: float = 2.0
    # The demo's database (make demo creates it): the operator CLIs reach the same one by default.
    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/wamux")
    db_pool_max: int = 10
    # Messages taken from a queue before the first is acked: bounded so one replica never hoards work.
    prefetch: int = 16
    # The most deliveries a batching consumer (serve(..., batch=True)) carries out in one transaction; it takes
    # twice that from the queue, so the next batch is already delivered while one commits.
    batch_max: int = 64


class GraphSettings(BaseSettings):
    """Meta's Graph API: the system-user token and where to reach it (the sender; the gateway's media proxy)."""

    model_config = _CONFIG

    graph_base_url: str = "https://graph.facebook.com"
    graph_api_version: str = "v23.0"
    graph_token: SecretStr = SecretStr("")
    graph_timeout_s: float = 10.0


class MetaAppSettings(BaseSettings):
    """The Meta app that onboards clients' numbers (Embedded Signup), named as the App Dashboard and the
    sandbox name them: WAMUX_APP_ID, WAMUX_APP_SECRET (the same secret that signs webhooks), WAMUX_SIGNUP_CONFIG_ID
    (the Embedded Signup configuration), WAMUX_APP_NAME."""

    model_config = _CONFIG

    app_id: str = ""
    app_secret: SecretStr = SecretStr("")
    signup_config_id: str = ""
    app_name: str = "wamux"


class SignupLinkSettings(BaseSettings):
    """Signup links (``shared.signup_links``): where wamux is reached from outside, the secret that signs the
    links the directory issues and the gateway serves, their lifetime, and where Meta's hosted signup is."""

    model_config = _CONFIG

    public_base_url: str = "http://127.0.0.1:8080"
    signup_link_secret: SecretStr = SecretStr("")
    signup_link_days: float = 7.0
    signup_base_url: str = "https://business.facebook.com"


class LLMSettings(BaseSettings):
    """Any OpenAI-compatible endpoint (the ai-worker's replies, the gateway's "try it"); the key read as the openai
    package reads it."""

    model_config = _CONFIG

    openai_base_url: str = "https://api.openai.com/v1"
    openai_model: str = "gpt-4o-mini"
    openai_timeout_s: float = 30.0
    openai_api_key: SecretStr = Field(
        default=SecretStr(""), validation_alias=AliasChoices("OPENAI_API_KEY", "WAMUX_OPENAI_API_KEY")
    )


class CredentialSettings(BaseSettings):
    """The keys that encrypt business tokens and PINs at rest (``shared.secretbox``): ``id:base64key`` pairs,
    comma-separated, the first one encrypting; the others still decrypt what they encrypted (rotation)."""

    model_config = _CONFIG

    credential_keys: SecretStr = SecretStr("")


def variables(settings_class: type[BaseSettings]) -> tuple[str, ...]:
    """The environment variables a settings class reads (``service`` is set by each process, not read)."""
    names: list[str] = []
    for name, field in settings_class.model_fields.items():
        if name == "service":
            continue
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.extend(str(choice) for choice in alias.choices)
        else:
            names.append(f"WAMUX_{name.upper()}")
    return tuple(names)


def refused(exc: ValidationError, settings_class: type[BaseSettings]) -> str:
    """Each refused setting by its variable and pydantic's reason, on one line, for a CLI to print instead of a
    traceback. Never the value: it may be a secret (pydantic's own message quotes the input)."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    fields = settings_class.model_fields
    said = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        variable = f"{prefix}{name}".upper() if name in fields else name  # a name outside the fields is an alias
        words = str(error["msg"]).removeprefix("Value error, ")
        said.append(f"{variable}: {words}" if variable else words)  # a check across settings names them itself
    return "; ".join(said)
