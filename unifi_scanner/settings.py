"""One settings model for the whole configuration.

Precedence, highest first: command-line flags (passed as keyword overrides), environment variables
(`UNIFI_<NAME>`), secret files (`UNIFI_<NAME>_FILE`, then `/run/secrets/unifi_<name>`), the YAML config
file (same names, lower case, no prefix), then the defaults below. Every field carries a description:
`--help`, `check` and the README's settings table are generated from them.

Secrets are `SecretStr` so they never reach logs, tracebacks or printed configuration; every secret
value is also registered with the log redactor as soon as settings load.
"""

from __future__ import annotations

import os
import re
import sys
from contextvars import ContextVar
from email.headerregistry import Address
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from unifi_scanner.errors import ConfigError
from unifi_scanner.models import Severity

ENV_PREFIX = "UNIFI_"
DEFAULT_SECRETS_DIR = Path("/run/secrets")

_config_data: ContextVar[dict[str, Any] | None] = ContextVar("unifi_scanner_config_data", default=None)

CommaList = Annotated[list[str], NoDecode]
"""A list given as `a,b,c` in the environment (or as a YAML list in the config file)."""


def _default_data_dir() -> Path:
    """Where reports and state live when nothing is configured: the XDG state directory."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "unifi-scanner"


def default_config_paths() -> list[Path]:
    """The config files searched, in order, when `--config` is not given."""
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [
        Path("unifi-scanner.yaml"),
        Path(xdg) / "unifi-scanner" / "config.yaml",
        Path("/config/config.yaml"),
    ]


class Settings(BaseSettings):
    """The complete configuration of unifi-scanner."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
        validate_default=True,
        hide_input_in_errors=True,
        # `UNIFI_TLS_FINGERPRINT=` in a compose file means "not set", not "an invalid fingerprint".
        env_ignore_empty=True,
    )

    # ------------------------------------------------------------------ controller
    host: str | None = Field(None, description="Controller address: hostname, IP or https:// URL.")
    port: int | None = Field(
        None, ge=1, le=65535, description="Controller port (default 443 for UniFi OS, 8443 for legacy)."
    )
    username: str | None = Field(None, description="Local admin account (UI.com accounts need MFA).")
    password: SecretStr | None = Field(None, description="Password of the local admin account.")
    api_key: SecretStr | None = Field(None, description="UniFi OS API key; replaces username/password.")
    site: str = Field("default", description="Site name as used in URLs (not its description).")
    sites: CommaList = Field(
        default_factory=list,
        description="Several sites of the controller in one run: names as in URLs (default,branch), or all "
                    "(every site the account can see). Empty: UNIFI_SITE alone.",
    )
    controllers: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Several controllers (a list in the config file): each entry has a name and takes the "
                    "same keys as these settings, which act as its defaults; secrets as KEY_file paths.",
    )
    report_per: Literal["run", "controller", "site"] = Field(
        "run", description="With several sites: one combined report per run, one per controller, or one "
                           "per site (each with its controller's recipients).",
    )
    shard: str | None = Field(
        None, description="I/N: run only the controllers at positions where position % N == I "
                          "(spread a fleet over N pods or hosts).",
    )
    controller_type: Literal["auto", "unifi_os", "legacy"] = Field(
        "auto", description="auto detects; unifi_os for consoles, legacy for the self-hosted app."
    )
    verify_ssl: bool = Field(True, description="Verify the controller's TLS certificate.")
    ca_bundle: Path | None = Field(None, description="PEM file of CAs to trust for the controller.")
    tls_fingerprint: str | None = Field(
        None, description="SHA-256 fingerprint of the controller certificate to pin (hex, colons optional)."
    )
    timeout: float = Field(30.0, gt=0, description="Seconds to wait on each controller request.")
    lookback_hours: float = Field(24.0, gt=0, description="Window of the first run, in hours.")
    overlap_minutes: float = Field(
        5.0, ge=0, description="Re-read this much before the checkpoint to catch late-stored events."
    )
    max_pages: int = Field(
        10_000, ge=1, description="Safety cap on pages per source; reaching it marks the source truncated."
    )

    # ------------------------------------------------------------------ files, state, logging
    reports_dir: Path = Field(default_factory=_default_data_dir, description="Where reports are written.")
    state_dir: Path | None = Field(
        None, description="Checkpoint, lock and run history (default: reports_dir)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    log_format: Literal["text", "json"] = Field("text", description="text, or one JSON object per line.")

    # ------------------------------------------------------------------ analysis and rendering
    timezone: str = Field("UTC", description="IANA time zone for dates shown in reports.")
    detail: Literal["low", "medium", "high"] = Field(
        "medium", description="low: severe+medium only; high: every finding with per-event tables."
    )
    min_severity: Severity = Field(
        Severity.LOW, description="Findings below this severity are not delivered (low, medium, severe)."
    )
    severity_overrides: dict[str, Severity] = Field(
        default_factory=dict, description="Per-rule severity, e.g. {\"client_churn\": \"medium\"} (JSON)."
    )
    mute_rules: CommaList = Field(default_factory=list, description="Rule ids never reported.")
    mute_devices: CommaList = Field(default_factory=list, description="Device MACs or names never reported.")
    mute_clients: CommaList = Field(default_factory=list, description="Client MACs or names never reported.")
    mute_signatures: CommaList = Field(
        default_factory=list, description="IPS signature ids or texts never reported."
    )
    subject_template: str = Field(
        "{new_tag}UniFi Report - {date}",
        description="Email subject; variables {site} {controller} {date} {severe} {medium} {low} {total} "
                    "{severe_tag} {new} {new_severe} {resolved} {new_tag} (what is new, resolved, or still "
                    "severe).",
    )
    send_empty: bool = Field(False, description="Send an 'all quiet' report when nothing was found.")
    notify: Literal["always", "changes", "severe"] = Field(
        "always",
        description="When email, webhooks and uploads go out: always; changes (something new, resolved or "
                    "of changed severity); severe (a severe finding is new or still open). Files are "
                    "written and the checkpoint moves either way.",
    )
    ongoing: Literal["full", "brief"] = Field(
        "brief", description="Findings already in the last report: full, or brief (one line each).")
    quiet_hours: float = Field(
        24, gt=0, le=24 * 90,
        description="An incident made of events (a threat source, failed logins, flapping) is resolved "
                    "after a whole report window and at least this many hours without its events.",
    )

    # ------------------------------------------------------------------ email
    email_enabled: bool = Field(False, description="Deliver the report by email.")
    smtp_host: str | None = Field(None, description="SMTP server.")
    smtp_port: int | None = Field(
        None, ge=1, le=65535, description="SMTP port (default 587 starttls, 465 ssl, 25 none)."
    )
    smtp_tls: Literal["starttls", "ssl", "none"] = Field("starttls", description="SMTP transport security.")
    smtp_user: str | None = Field(None, description="SMTP login; AUTH is used only when set.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_ca_bundle: Path | None = Field(None, description="PEM file of CAs to trust for the SMTP server.")
    smtp_allow_plaintext_auth: bool = Field(
        False, description="Allow sending the SMTP password without TLS (local relays only)."
    )
    smtp_timeout: float = Field(30.0, gt=0, description="Seconds to wait on the SMTP server.")
    email_from: str | None = Field(
        None, description="Sender address: user@example.net, or Name <user@example.net> (the name then acts "
                          "as UNIFI_EMAIL_FROM_NAME).")
    email_from_name: str | None = Field(
        None, description="Sender display name; the characters `.,:;<>@()[]\\\"` become spaces in it.")
    email_reply_to: str | None = Field(None, description="Reply-To address.")
    email_to: CommaList = Field(default_factory=list, description="To recipients (comma-separated).")
    email_cc: CommaList = Field(default_factory=list, description="Cc recipients (comma-separated).")
    email_bcc: CommaList = Field(default_factory=list, description="Bcc recipients (comma-separated).")
    email_recipients: CommaList = Field(
        default_factory=list, description="Bcc recipients, kept for compatibility: added to email_bcc."
    )
    email_list_unsubscribe: str | None = Field(
        None, description="Address for a List-Unsubscribe: <mailto:...> header."
    )
    email_attach: Literal["none", "html", "json", "both"] = Field(
        "none", description="Attach the HTML and/or JSON report."
    )
    email_attach_max_bytes: int = Field(
        5_000_000, ge=0, description="Attachments larger than this are left out with a note."
    )

    # ------------------------------------------------------------------ report files
    file_enabled: bool = Field(True, description="Write report files to reports_dir.")
    file_format: Literal["html", "text", "both", "json"] = Field("both", description="Report file formats.")
    file_retention_days: int = Field(30, ge=0, description="Delete this tool's report files older than this.")
    # ------------------------------------------------------------------ uploads (the upload extra)
    upload_urls: CommaList = Field(
        default_factory=list,
        description="Upload each report (and the archive page) to these fsspec URLs, e.g. "
                    "s3://bucket/unifi/,sftp://reports@files.example.net/srv/unifi/ (extra: upload).",
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible service endpoint (MinIO, Backblaze, Wasabi); AWS needs none.")
    sftp_password: SecretStr | None = Field(
        None, description="SFTP password, when no SSH key (agent, ~/.ssh) is to be used.")

    # ------------------------------------------------------------------ webhooks and monitoring
    slack_webhook_url: SecretStr | None = Field(None, description="Slack incoming webhook URL.")
    discord_webhook_url: SecretStr | None = Field(None, description="Discord webhook URL.")
    teams_webhook_url: SecretStr | None = Field(None, description="Microsoft Teams incoming webhook URL.")
    ntfy_url: SecretStr | None = Field(None, description="ntfy topic URL, e.g. https://ntfy.sh/mytopic.")
    ntfy_token: SecretStr | None = Field(None, description="ntfy access token.")
    webhook_url: SecretStr | None = Field(None, description="Generic JSON webhook URL.")
    webhook_auth: Literal["none", "bearer", "basic", "header"] = Field(
        "none", description="Generic webhook authentication."
    )
    webhook_token: SecretStr | None = Field(
        None, description="Bearer token, user:password for basic, or the header value."
    )
    webhook_header_name: str = Field("X-Auth-Token", description="Header name when webhook_auth=header.")
    webhook_hmac_secret: SecretStr | None = Field(
        None, description="Sign the generic webhook body (X-Signature-256: sha256=<hex>)."
    )
    webhook_payload: Literal["summary", "report"] = Field(
        "summary", description="Generic webhook body: a summary or the full report JSON."
    )
    webhook_redact: bool = Field(False, description="Redact MACs and IPs in what goes to chat services.")
    apprise_urls: CommaList = Field(
        default_factory=list, description="Apprise URLs (needs the apprise extra)."
    )
    report_base_url: str | None = Field(
        None, description="Public URL where reports_dir (and its archive page index.html) is served, e.g. "
                          "https://reports.example.net/unifi/: chat messages link into it."
    )
    ping_url: SecretStr | None = Field(None, description="healthchecks.io-style ping URL.")
    ping_send_log: bool = Field(False, description="Send the last log lines with the end ping.")

    # ------------------------------------------------------------------ validators

    @field_validator(
        "mute_rules", "mute_devices", "mute_clients", "mute_signatures", "email_to", "email_cc",
        "email_bcc", "email_recipients", "apprise_urls", "sites", "upload_urls", mode="before",
    )
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("email_to", "email_cc", "email_bcc", "email_recipients")
    @classmethod
    def _valid_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            check_address(address)
        return value

    @model_validator(mode="before")
    @classmethod
    def _named_sender(cls, data: Any) -> Any:
        """Accept `UNIFI_EMAIL_FROM='Name <address>'`: the address is the sender, the name its display
        name (unless UNIFI_EMAIL_FROM_NAME gives one), defused like any display name."""
        if not isinstance(data, dict):
            return data
        sender = data.get("email_from")
        named = NAMED_ADDRESS.match(sender) if isinstance(sender, str) else None
        if named is None:
            return data
        name = named["name"].strip().strip('"').strip()
        data = {**data, "email_from": named["address"].strip()}
        if name and not data.get("email_from_name"):
            data["email_from_name"] = name
        return data

    @field_validator("email_from", "email_reply_to", "email_list_unsubscribe")
    @classmethod
    def _valid_address(cls, value: str | None) -> str | None:
        return None if value is None else check_address(value)

    @field_validator("email_from_name", "subject_template", "site", "host", "username", "smtp_user")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError("must be a single line")
        return value

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str | None) -> str | None:
        if value is not None:
            parse_shard(value)
        return value

    @field_validator("sites")
    @classmethod
    def _site_names(cls, value: list[str]) -> list[str]:
        if "all" in value and len(value) > 1:
            raise ValueError("all stands alone: every site the account can see")
        return value

    @field_validator("tls_fingerprint")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        hexdigits = re.sub(r"[:\s]", "", value).lower()
        if not re.fullmatch(r"[0-9a-f]{64}", hexdigits):
            raise ValueError("must be a SHA-256 fingerprint: 64 hex digits, colons allowed")
        return hexdigits

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. Europe/Berlin)") from None
        return value

    @field_validator("ca_bundle", "smtp_ca_bundle")
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems: list[str] = []
        if self.email_enabled:
            if not self.smtp_host:
                problems.append("smtp_host: required when email is enabled")
            if not self.email_from:
                problems.append("email_from: required when email is enabled")
            if not (self.email_to or self.email_cc or self.all_bcc):
                problems.append("email_recipients: at least one recipient is required when email is enabled")
            if self.smtp_user and not self.smtp_password:
                problems.append("smtp_password: required when smtp_user is set")
        if self.webhook_auth != "none" and not self.webhook_token:
            problems.append(f"webhook_token: required when webhook_auth is {self.webhook_auth}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # ------------------------------------------------------------------ derived values

    @property
    def effective_state_dir(self) -> Path:
        """The state directory: UNIFI_STATE_DIR, else the reports directory."""
        return self.state_dir or self.reports_dir

    @property
    def all_bcc(self) -> list[str]:
        """Bcc recipients from UNIFI_EMAIL_BCC and UNIFI_EMAIL_RECIPIENTS, without repeats."""
        return list(dict.fromkeys(self.email_bcc + self.email_recipients))

    @property
    def effective_smtp_port(self) -> int:
        """The SMTP port, defaulting by transport security."""
        return self.smtp_port or {"starttls": 587, "ssl": 465, "none": 25}[self.smtp_tls]

    def secret_values(self) -> list[str]:
        """Every secret's plain value, for the log redactor."""
        values = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        return values

    def public_dump(self) -> dict[str, Any]:
        """The settings as JSON-ready data with every secret shown as `**********` (for `check`)."""
        data = self.model_dump(mode="json")
        for name, value in data.items():
            if isinstance(getattr(self, name), SecretStr):
                data[name] = "**********" if value else None
        return data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            SecretFilesSource(settings_cls),
        ]
        sources.append(InitSettingsSource(settings_cls, init_kwargs=_config_data.get() or {}))
        return tuple(sources)


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N` as (I, N), with 0 <= I < N; ValueError saying what is wrong otherwise."""
    index, slash, count = str(text).partition("/")
    if not slash or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"{text!r} is not I/N (e.g. 0/4)")
    shard = (int(index), int(count))
    if shard[1] < 1 or shard[0] >= shard[1]:
        raise ValueError(f"{text!r}: I must be at least 0 and below N, and N at least 1")
    return shard


NAMED_ADDRESS = re.compile(r"^\s*(?P<name>[^<>\r\n]*)<(?P<address>[^<>\r\n]+)>\s*$")
"""`Display Name <user@example.com>` (the address inside is checked like any other)."""


def check_address(address: str) -> str:
    """Validate one email address (`user@example.com`); raise ValueError naming it when invalid."""
    if "\r" in address or "\n" in address or "," in address or "<" in address:
        raise ValueError(f"{address!r} is not a plain email address")
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{address!r} is not a valid email address") from exc
    if not parsed.username or not parsed.domain or "." not in parsed.domain.strip("."):
        raise ValueError(f"{address!r} is not a valid email address (user@domain.tld)")
    return address


class SecretFilesSource(PydanticBaseSettingsSource):
    """Reads secrets from `UNIFI_<NAME>_FILE` paths, then from Docker secrets in `/run/secrets`.

    Setting both `UNIFI_X` and `UNIFI_X_FILE` is an error (the Docker Official Images convention):
    silently preferring one hides a misconfiguration. One trailing newline is stripped, because editors
    and `echo` add it.
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: values are gathered in `__call__`."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """Return the secret values found on disk, keyed by field name."""
        found: dict[str, Any] = {}
        secrets_dir = Path(os.environ.get(f"{ENV_PREFIX}SECRETS_DIR", DEFAULT_SECRETS_DIR))
        environ = {key.upper(): value for key, value in os.environ.items()}
        for name, info in self.settings_cls.model_fields.items():
            if not _is_secret(info):
                continue
            env_name = f"{ENV_PREFIX}{name.upper()}"
            file_var = f"{env_name}_FILE"
            if file_var in environ:
                if env_name in environ:
                    raise ConfigError(f"{env_name} and {file_var} are both set; use one of them")
                found[name] = _read_secret(Path(environ[file_var]), file_var)
                continue
            candidate = secrets_dir / env_name.lower()
            if env_name not in environ and candidate.is_file():
                found[name] = _read_secret(candidate, str(candidate))
        return found


def _is_secret(info: FieldInfo) -> bool:
    return "SecretStr" in repr(info.annotation)


def _read_secret(path: Path, origin: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{origin}: cannot read {path}: {exc.strerror}") from None
    return text[:-1] if text.endswith("\n") else text


def find_config_file(explicit: Path | None) -> Path | None:
    """Return the config file to read: `--config` if given (it must exist), else the first default found."""
    if explicit is not None:
        if str(explicit) != "-" and not explicit.is_file():
            raise ConfigError(f"--config: {explicit} does not exist or is not a file")
        return explicit
    return next((path for path in default_config_paths() if path.is_file()), None)


def read_config_file(path: Path | None) -> dict[str, Any]:
    """Parse the YAML config file (`-` reads stdin) into settings values, rejecting unknown keys.

    A typo in a key would otherwise be ignored silently and the default used, which is how reports stop
    arriving without anyone noticing.
    """
    if path is None:
        return {}
    import yaml

    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping of setting names to values")
    data = {str(key).lower().removeprefix(ENV_PREFIX.lower()): value for key, value in data.items()}
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise ConfigError("\n".join(f"{path}: unknown setting {key!r}" for key in unknown))
    return data


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from every source; raise ConfigError listing every problem, one per line.

    `overrides` are command-line flags: only those not None are applied, so an absent flag never hides
    the environment.
    """
    data = read_config_file(find_config_file(config_file))
    flags = {key: value for key, value in overrides.items() if value is not None}
    token = _config_data.set(data)
    try:
        settings = Settings(**flags)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    finally:
        _config_data.reset(token)
    from unifi_scanner.logs import register_secrets

    register_secrets(settings.secret_values())
    return settings


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, each naming the setting by its environment variable."""
    lines = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
        message = error["msg"].removeprefix("Value error, ")
        if not loc:
            # Model-level checks already prefix each problem with the field name.
            for part in message.split("; "):
                field, _, problem = part.partition(": ")
                lines.append(f"{ENV_PREFIX}{field.upper()}: {problem}" if problem else part)
            continue
        lines.append(f"{ENV_PREFIX}{loc[0].upper()}: {message}")
    return "\n".join(lines)


def settings_table() -> str:
    """The README's settings table, generated from the field descriptions (one source of truth)."""
    rows = ["| Environment variable | Default | Description |", "| --- | --- | --- |"]
    for name, info in Settings.model_fields.items():
        if info.default_factory is _default_data_dir:
            default = "`$XDG_STATE_HOME/unifi-scanner`"
        elif info.default_factory is not None:
            default = "empty"
        elif info.default is None:
            default = ""
        else:
            value = info.default.value if hasattr(info.default, "value") else info.default
            default = f"`{str(value).lower() if isinstance(value, bool) else value}`"
        secret = ""
        if _is_secret(info):
            secret = f" Secret: also `{ENV_PREFIX}{name.upper()}_FILE` or `/run/secrets/unifi_{name}`."
        description = (info.description or "").replace("|", "\\|")
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | {default} | {description}{secret} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(settings_table())
