"""Settings: built once from a TOML config file with named profiles, overridden by ``BATCHOPS_*`` variables.

The config file (``--config``, else ``$BATCHOPS_CONFIG``, else ``config.toml`` in the user config directory)::

    default_profile = "prod"          # optional; else $BATCHOPS_PROFILE, else "default"

    [profiles.prod]
    base_url = "https://service.besclouds.com"     # C1 gateway; a port belongs here
    app_key = "..."
    app_secret = "..."
    isales_url = "https://isales.example.com:28050"
    isales_ak = "..."
    isales_sk = "..."
    user_id = "operator-1"
    user_id_on_every_call = false     # x-UserId only where the pages document it (silence rules)
    verify_tls = true
    timeout = 30
    token_ttl = 600
    throttle_timeout = 300
    isales_signed_headers = ["host"]
    isales_timestamp_format = "iso-seconds"
    isales_always_query_line = false

Each key has one environment variable (``FIELDS`` below is the table), which wins over the profile.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError
from .secrets import Secret

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 needs the tomli backport
    import tomli as tomllib

APP_NAME = "batchops"
CONFIG_FILE_NAME = "config.toml"
ENV_CONFIG = "BATCHOPS_CONFIG"
ENV_PROFILE = "BATCHOPS_PROFILE"

DEFAULT_PROFILE = "default"
DEFAULT_TIMEOUT = 30.0
DEFAULT_TOKEN_TTL = 600
DEFAULT_THROTTLE_TIMEOUT = 300.0
"""Seconds of nothing but 429 answers after which a run stops, leaving the rest not-sent."""
MAX_TOKEN_TTL = 3600
DEFAULT_VERIFY_TLS = True
DEFAULT_ISALES_SIGNED_HEADERS: tuple[str, ...] = ("host",)
TIMESTAMP_FORMATS = ("iso-seconds", "iso-millis", "epoch-millis")
"""``iso-seconds`` is Huawei's demo (``yyyy-MM-dd'T'HH:mm:ss'Z'``); the others are unverified variants."""
DEFAULT_ISALES_TIMESTAMP_FORMAT = "iso-seconds"
DEFAULT_ISALES_ALWAYS_QUERY_LINE = False
DEFAULT_SYSINFO_PATH = "/apiaccess/CC-Management/v1/querySysInfo"
"""The English edition's spelling; the Chinese edition of 2025 spells it ``CC-Mangemant`` (api-notes.md)."""


@dataclass(frozen=True)
class SettingField:
    """One setting: its profile key, its environment variable, its kind and what it means to a user."""

    key: str
    env: str
    kind: str  # "url", "str", "secret", "bool", "float", "int", "headers", "choice", "path"
    label: str


FIELDS: tuple[SettingField, ...] = (
    SettingField("base_url", "BATCHOPS_BASE_URL", "url", "the C1 gateway URL"),
    SettingField("app_key", "BATCHOPS_APP_KEY", "str", "the C1 app key"),
    SettingField("app_secret", "BATCHOPS_APP_SECRET", "secret", "the C1 app secret"),
    SettingField("isales_url", "BATCHOPS_ISALES_URL", "url", "the CC-iSales URL"),
    SettingField("isales_ak", "BATCHOPS_ISALES_AK", "str", "the CC-iSales access key (AK)"),
    SettingField("isales_sk", "BATCHOPS_ISALES_SK", "secret", "the CC-iSales secret key (SK)"),
    SettingField("user_id", "BATCHOPS_USER_ID", "str", "the operator id for silence-rule calls"),
    SettingField("user_id_on_every_call", "BATCHOPS_USER_ID_ON_EVERY_CALL", "bool",
                 "whether x-UserId goes on every C1 call, not only the silence-rule calls the pages document"),
    SettingField("verify_tls", "BATCHOPS_VERIFY_TLS", "bool", "TLS certificate checking"),
    SettingField("timeout", "BATCHOPS_TIMEOUT", "float", "the request timeout in seconds"),
    SettingField("token_ttl", "BATCHOPS_TOKEN_TTL", "int", "the token lifetime in seconds"),
    SettingField("throttle_timeout", "BATCHOPS_THROTTLE_TIMEOUT", "float",
                 "the seconds of nothing but throttling (HTTP 429) after which a run stops"),
    SettingField(
        "isales_signed_headers", "BATCHOPS_ISALES_SIGNED_HEADERS", "headers", "the iSales signed headers"
    ),
    SettingField(
        "isales_timestamp_format", "BATCHOPS_ISALES_TIMESTAMP_FORMAT", "choice", "the iSales timestamp format"
    ),
    SettingField(
        "isales_always_query_line",
        "BATCHOPS_ISALES_ALWAYS_QUERY_LINE",
        "bool",
        "whether iSales signing always emits the query line",
    ),
    SettingField("sysinfo_path", "BATCHOPS_SYSINFO_PATH", "path", "the querySysInfo path below the C1 gateway"),
)
FIELDS_BY_KEY: dict[str, SettingField] = {f.key: f for f in FIELDS}
C1_KEYS = ("base_url", "app_key", "app_secret")
"""What the C1 (token) calls need."""
ISALES_KEYS = ("isales_url", "isales_ak", "isales_sk")
"""What the CC-iSales (AK/SK) calls need."""


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def default_config_path() -> Path:
    """Where the config file lives when neither ``--config`` nor ``$BATCHOPS_CONFIG`` says otherwise."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / CONFIG_FILE_NAME


@dataclass(frozen=True)
class Settings:
    """Everything batchops needs to reach the servers; secrets held as ``Secret`` so a repr never shows them."""

    profile: str = DEFAULT_PROFILE
    config_path: Path | None = None
    base_url: str | None = None
    app_key: str | None = None
    app_secret: Secret | None = None
    isales_url: str | None = None
    isales_ak: str | None = None
    isales_sk: Secret | None = None
    user_id: str | None = None
    user_id_on_every_call: bool = False
    """The pages document ``x-UserId`` on the silence-rule calls only; on, it goes on every C1 call."""
    verify_tls: bool = DEFAULT_VERIFY_TLS
    timeout: float = DEFAULT_TIMEOUT
    token_ttl: int = DEFAULT_TOKEN_TTL
    throttle_timeout: float = DEFAULT_THROTTLE_TIMEOUT
    isales_signed_headers: tuple[str, ...] = DEFAULT_ISALES_SIGNED_HEADERS
    isales_timestamp_format: str = DEFAULT_ISALES_TIMESTAMP_FORMAT
    isales_always_query_line: bool = DEFAULT_ISALES_ALWAYS_QUERY_LINE
    sysinfo_path: str = DEFAULT_SYSINFO_PATH
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Where each set value came from: ``env BATCHOPS_X`` or ``profile 'p' in /path``; for messages."""

    def require_c1(self) -> None:
        """Raise ``ConfigError`` naming every missing setting the C1 (token) calls need."""
        self.require(*C1_KEYS)

    def require_isales(self) -> None:
        """Raise ``ConfigError`` naming every missing setting the CC-iSales (AK/SK) calls need."""
        self.require(*ISALES_KEYS)

    def require_user_id(self) -> None:
        """Raise ``ConfigError`` when the operator id for silence-rule calls is missing."""
        self.require("user_id")

    def missing(self, *keys: str) -> list[str]:
        """Those of ``keys`` that are not set (or set to empty text)."""
        return [key for key in keys if getattr(self, key) is None
                or (isinstance(getattr(self, key), (str, Secret)) and not getattr(self, key))]

    def require(self, *keys: str) -> None:
        """Raise one ``ConfigError`` naming every one of ``keys`` that is not set, and how to set each:
        the user fixes them all in one go, not one per run."""
        missing = self.missing(*keys)
        if not missing:
            return
        specs = [FIELDS_BY_KEY[key] for key in missing]
        if self.config_path is not None:
            where = f"profile '{self.profile}' of {self.config_path}"
        else:
            where = f"[profiles.{self.profile}] of {default_config_path()} (a new file)"
        if len(specs) == 1:
            spec = specs[0]
            raise ConfigError(f"{spec.label[0].upper()}{spec.label[1:]} is not set.",
                              fix=f"Set {spec.env}, or {spec.key} in {where}.")
        raise ConfigError(
            f"{len(specs)} settings are not set: {_and([s.label for s in specs])}.",
            fix=f"Set {_and([s.env for s in specs])}, or {_and([s.key for s in specs])} in {where}.",
        )

    def describe(self) -> dict[str, Any]:
        """The settings as a dict for display, secrets masked."""
        from .secrets import redact

        out = {f.key: getattr(self, f.key) for f in FIELDS}
        out["profile"] = self.profile
        out["config_path"] = str(self.config_path) if self.config_path else None
        out["isales_signed_headers"] = list(self.isales_signed_headers)
        return redact(out)


def load_settings(
    profile: str | None = None,
    config_path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build the ``Settings`` once: the profile from the config file, then ``BATCHOPS_*`` over it.

    ``config_path`` (``--config``) or ``$BATCHOPS_CONFIG`` must exist when given; the default path may be absent.
    ``profile`` (``--profile``) wins over ``$BATCHOPS_PROFILE``, which wins over the file's ``default_profile``.
    """
    env = os.environ if env is None else env
    path, document = _config_document(config_path, env)
    profiles = document.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: [profiles] must be a table.", fix="Write profiles as [profiles.NAME].")

    chosen = profile or env.get(ENV_PROFILE) or document.get("default_profile") or DEFAULT_PROFILE
    if not isinstance(chosen, str):
        raise ConfigError(f"{path}: default_profile must be a string.")
    named = profile is not None or bool(env.get(ENV_PROFILE)) or "default_profile" in document
    raw = profiles.get(chosen)
    if raw is None:
        if named:
            known = ", ".join(sorted(profiles)) or "none"
            raise ConfigError(
                f"Profile '{chosen}' is not in {path} (profiles: {known}).",
                fix=f"Add [profiles.{chosen}] to the file, or choose another with --profile.",
            )
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [profiles.{chosen}] must be a table.")
    unknown = sorted(set(raw) - set(FIELDS_BY_KEY))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key '{unknown[0]}' in [profiles.{chosen}].",
            fix=f"Known keys: {', '.join(FIELDS_BY_KEY)}.",
        )

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in FIELDS:
        if spec.key in raw:
            source = f"{spec.key} in profile '{chosen}' of {path}"
            values[spec.key] = _convert(spec, raw[spec.key], source)
            sources[spec.key] = source
        text = env.get(spec.env)
        if text is not None and text != "":
            values[spec.key] = _convert(spec, text, spec.env)
            sources[spec.key] = spec.env
    return Settings(
        profile=chosen,
        config_path=path if path.exists() else None,
        sources=sources,
        **values,
    )


def configured_profiles(config_path: str | Path | None = None, env: Mapping[str, str] | None = None) -> list[str]:
    """The profile names the config file defines, sorted; none when there is no config file."""
    _path, document = _config_document(config_path, os.environ if env is None else env)
    profiles = document.get("profiles", {})
    return sorted(profiles) if isinstance(profiles, dict) else []


def _config_document(config_path: str | Path | None, env: Mapping[str, str]) -> tuple[Path, dict[str, Any]]:
    """The config file's path (``--config``, else ``$BATCHOPS_CONFIG``, else the default) and its content."""
    explicit_path = config_path if config_path is not None else env.get(ENV_CONFIG) or None
    path = Path(explicit_path).expanduser() if explicit_path else default_config_path()
    return path, _read_config(path, required=explicit_path is not None)


def _read_config(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise ConfigError(
                f"Config file {path} does not exist.",
                fix=f"Check the --config path or ${ENV_CONFIG}.",
            )
        return {}
    try:
        # utf-8-sig: Windows Notepad and PowerShell 5's Set-Content -Encoding UTF8 start the file with a BOM,
        # which TOML does not allow; the file is otherwise exactly what the user typed.
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text.",
                          fix="Save it as UTF-8 (in Notepad: Save as, Encoding UTF-8).") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from exc
    except OSError as exc:
        raise ConfigError(f"Config file {path} cannot be read: {exc.strerror}.") from exc


def _convert(spec: SettingField, value: Any, source: str) -> Any:
    """Turn a profile value or an environment string into the setting's type; ConfigError names the source."""

    def bad(expected: str) -> ConfigError:
        shown = "****" if spec.kind == "secret" else repr(value)
        return ConfigError(f"{source} must be {expected}, not {shown}.")

    kind = spec.kind
    if kind in ("str", "secret", "url"):
        if not isinstance(value, str):
            raise bad("a string")
        value = value.strip()
        if kind == "secret":
            return Secret(value)
        if kind == "url":
            if not value.startswith(("http://", "https://")):
                raise bad("an http:// or https:// URL")
            return value.rstrip("/")
        return value
    if kind == "path":
        if not isinstance(value, str) or not value.strip().startswith("/") or " " in value.strip():
            raise bad("a path starting with /, like /apiaccess/CC-Management/v1/querySysInfo")
        return value.strip()
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad("true or false")
    if kind == "float":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad("a number of seconds") from None
        if not number > 0:
            raise bad("a number of seconds above 0")
        return number
    if kind == "int":
        try:
            integer = int(value)
        except (TypeError, ValueError):
            raise bad("a whole number of seconds") from None
        if not 1 <= integer <= MAX_TOKEN_TTL:
            raise bad(f"between 1 and {MAX_TOKEN_TTL} seconds")
        return integer
    if kind == "headers":
        names = value.split(";") if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise bad("a list of header names")
        cleaned = tuple(sorted({n.strip().lower() for n in names if n.strip()}))
        if "host" not in cleaned:
            raise bad("a header list that includes host")
        return cleaned
    if kind == "choice":
        if value not in TIMESTAMP_FORMATS:
            raise bad(f"one of {', '.join(TIMESTAMP_FORMATS)}")
        return value
    raise AssertionError(kind)  # pragma: no cover
