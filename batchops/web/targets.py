"""Which AICC the page talks to: the same profiles and ``BATCHOPS_*`` variables as the command line.

The page shows the profile, the config file and the URLs (never a key or a secret) and lets the user
switch to another profile of the config file; the choice holds for the whole server, as ``--profile``
does for a command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BatchopsError, ConfigError
from ..settings import Settings, configured_profiles, load_settings


@dataclass(frozen=True)
class Target:
    """What the page shows about the target: no secret is ever in here."""

    profile: str
    config_path: str | None
    base_url: str | None
    isales_url: str | None
    c1_ready: bool
    isales_ready: bool
    profiles: tuple[str, ...]
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "config_path": self.config_path, "base_url": self.base_url,
                "isales_url": self.isales_url, "c1_ready": self.c1_ready, "isales_ready": self.isales_ready,
                "profiles": list(self.profiles), "problem": self.problem}


def _ready(check: Any) -> bool:
    try:
        check()
    except ConfigError:
        return False
    return True


class TargetChoice:
    """The server's current profile and config file; ``settings()`` loads them as the CLI would."""

    def __init__(self, profile: str | None, config_path: str | None) -> None:
        self.profile = profile
        self.config_path = config_path

    def settings(self) -> Settings:
        """The settings of the chosen profile (``ConfigError`` when they cannot be loaded)."""
        return load_settings(profile=self.profile, config_path=self.config_path)

    def profiles(self) -> tuple[str, ...]:
        """The profiles of the config file (empty when there is none, or it cannot be read)."""
        try:
            return tuple(configured_profiles(self.config_path))
        except BatchopsError:
            return ()

    def choose(self, profile: str) -> Target:
        """Switch to ``profile``, which must be in the config file; raises ``ConfigError`` otherwise."""
        known = self.profiles()
        if profile not in known:
            raise ConfigError(f"Profile '{profile}' is not in the config file (profiles: "
                              f"{', '.join(known) or 'none'}).")
        previous, self.profile = self.profile, profile
        target = self.describe()
        if target.problem is not None and target.profile != profile:
            self.profile = previous
        return target

    def describe(self) -> Target:
        """The target as the page shows it; a broken configuration is a ``problem`` line, not an error."""
        profiles = self.profiles()
        try:
            settings = self.settings()
        except BatchopsError as exc:
            return Target(profile=self.profile or "", config_path=self.config_path, base_url=None,
                          isales_url=None, c1_ready=False, isales_ready=False, profiles=profiles,
                          problem=str(exc))
        return Target(
            profile=settings.profile,
            config_path=str(settings.config_path) if settings.config_path else None,
            base_url=settings.base_url,
            isales_url=settings.isales_url,
            c1_ready=_ready(settings.require_c1),
            isales_ready=_ready(settings.require_isales),
            profiles=profiles,
        )
