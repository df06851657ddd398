"""Settings: config file profiles, BATCHOPS_* overrides, one-line messages for what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchops.errors import ConfigError
from batchops.secrets import Secret
from batchops.settings import (
    DEFAULT_ISALES_SIGNED_HEADERS,
    DEFAULT_TIMEOUT,
    DEFAULT_TOKEN_TTL,
    ISALES_KEYS,
    default_config_path,
    load_settings,
)

CONFIG = """
default_profile = "prod"

[profiles.prod]
base_url = "https://service.besclouds.com:28070/"
app_key = "prod-key"
app_secret = "prod-secret-value"
user_id = "op-1"

[profiles.lab]
base_url = "https://lab.example.com"
verify_tls = false
timeout = 5
token_ttl = 3600
isales_url = "https://isales.example.com:28050"
isales_ak = "lab-ak"
isales_sk = "lab-sk-value"
isales_signed_headers = ["Host", "content-type"]
isales_timestamp_format = "iso-millis"
"""


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own config file never leaks into a test."""
    monkeypatch.setattr("platformdirs.user_config_dir", lambda app: str(tmp_path / "user-config" / app))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config file with a prod (default) and a lab profile."""
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings(env={})
    assert settings.profile == "default" and settings.config_path is None
    assert settings.base_url is None and settings.verify_tls is True
    assert settings.timeout == DEFAULT_TIMEOUT and settings.token_ttl == DEFAULT_TOKEN_TTL
    assert settings.isales_signed_headers == DEFAULT_ISALES_SIGNED_HEADERS == ("host",)
    assert default_config_path() == tmp_path / "user-config" / "batchops" / "config.toml"


def test_file_default_profile(config: Path) -> None:
    settings = load_settings(config_path=config, env={})
    assert settings.profile == "prod"
    assert settings.base_url == "https://service.besclouds.com:28070"  # port kept, trailing slash dropped
    assert settings.app_secret == Secret("prod-secret-value")
    assert settings.user_id == "op-1"
    settings.require_c1()


def test_profile_argument_beats_environment_beats_file(config: Path) -> None:
    assert load_settings(config_path=config, env={"BATCHOPS_PROFILE": "lab"}).profile == "lab"
    assert load_settings("prod", config_path=config, env={"BATCHOPS_PROFILE": "lab"}).profile == "prod"
    lab = load_settings("lab", config_path=config, env={})
    assert lab.verify_tls is False and lab.timeout == 5.0 and lab.token_ttl == 3600
    assert lab.isales_signed_headers == ("content-type", "host")
    assert lab.isales_timestamp_format == "iso-millis"
    lab.require_isales()


def test_environment_overrides_the_profile(config: Path) -> None:
    env = {"BATCHOPS_BASE_URL": "http://127.0.0.1:9000", "BATCHOPS_APP_SECRET": "env-secret",
           "BATCHOPS_VERIFY_TLS": "false", "BATCHOPS_USER_ID": "op-2"}
    settings = load_settings(config_path=config, env=env)
    assert settings.base_url == "http://127.0.0.1:9000"
    assert settings.app_secret is not None and settings.app_secret.reveal() == "env-secret"
    assert settings.app_key == "prod-key"
    assert settings.verify_tls is False and settings.user_id == "op-2"
    assert settings.sources["base_url"] == "BATCHOPS_BASE_URL"


def test_config_path_from_environment(config: Path) -> None:
    assert load_settings(env={"BATCHOPS_CONFIG": str(config)}).app_key == "prod-key"


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_path=tmp_path / "nope.toml", env={})


def test_unknown_profile_lists_the_known_ones(config: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings("staging", config_path=config, env={})
    assert str(info.value) == (
        f"Profile 'staging' is not in {config} (profiles: lab, prod). "
        "Add [profiles.staging] to the file, or choose another with --profile."
    )


def test_unknown_key_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[profiles.default]\nbase_ulr = "https://x"\n')
    with pytest.raises(ConfigError, match="unknown key 'base_ulr'"):
        load_settings(config_path=path, env={})


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[profiles.default\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(config_path=path, env={})


def test_a_config_file_saved_by_notepad_or_powershell_with_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b'\xef\xbb\xbf[profiles.default]\r\nbase_url = "https://gw.example.com"\r\n')
    assert load_settings(config_path=path, env={}).base_url == "https://gw.example.com"
    path.write_bytes('[profiles.default]\nbase_url = "https://gw.example.com/é"\n'.encode("utf-16"))
    with pytest.raises(ConfigError) as refused:
        load_settings(config_path=path, env={})
    assert str(refused.value) == f"{path} is not UTF-8 text. Save it as UTF-8 (in Notepad: Save as, Encoding UTF-8)."


def test_require_names_the_one_missing_setting(config: Path) -> None:
    settings = load_settings(env={"BATCHOPS_BASE_URL": "https://gw.example.com", "BATCHOPS_APP_KEY": "k"},
                             config_path=None)
    with pytest.raises(ConfigError) as info:
        settings.require_c1()
    assert str(info.value) == (f"The C1 app secret is not set. Set BATCHOPS_APP_SECRET, or app_secret in "
                               f"[profiles.default] of {default_config_path()} (a new file).")
    prod = load_settings(config_path=config, env={})
    with pytest.raises(ConfigError) as info:
        prod.require_isales()
    assert str(info.value) == (
        "3 settings are not set: the CC-iSales URL, the CC-iSales access key (AK) and the CC-iSales secret key "
        "(SK). Set BATCHOPS_ISALES_URL, BATCHOPS_ISALES_AK and BATCHOPS_ISALES_SK, or isales_url, isales_ak and "
        f"isales_sk in profile 'prod' of {config}."
    )


def test_require_names_every_missing_setting_at_once(config: Path) -> None:
    """Three missing settings are three fixes in one message, not three runs (issue 10, item 6)."""
    settings = load_settings(env={}, config_path=None)
    with pytest.raises(ConfigError) as info:
        settings.require_c1()
    assert str(info.value) == (
        "3 settings are not set: the C1 gateway URL, the C1 app key and the C1 app secret. Set BATCHOPS_BASE_URL, "
        "BATCHOPS_APP_KEY and BATCHOPS_APP_SECRET, or base_url, app_key and app_secret in [profiles.default] of "
        f"{default_config_path()} (a new file).")
    prod = load_settings(config_path=config, env={"BATCHOPS_ISALES_AK": ""})
    with pytest.raises(ConfigError) as info:
        prod.require(*ISALES_KEYS, "user_id")
    assert prod.missing(*ISALES_KEYS) == ["isales_url", "isales_ak", "isales_sk"]
    assert str(info.value).startswith("3 settings are not set: the CC-iSales URL, the CC-iSales access key (AK) "
                                      "and the CC-iSales secret key (SK). Set BATCHOPS_ISALES_URL, ")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BATCHOPS_BASE_URL": "service.besclouds.com"}, "BATCHOPS_BASE_URL must be an http:// or https:// URL"),
        ({"BATCHOPS_TOKEN_TTL": "3601"}, "BATCHOPS_TOKEN_TTL must be between 1 and 3600 seconds"),
        ({"BATCHOPS_TOKEN_TTL": "soon"}, "BATCHOPS_TOKEN_TTL must be a whole number"),
        ({"BATCHOPS_TIMEOUT": "0"}, "BATCHOPS_TIMEOUT must be a number of seconds above 0"),
        ({"BATCHOPS_VERIFY_TLS": "maybe"}, "BATCHOPS_VERIFY_TLS must be true or false"),
        ({"BATCHOPS_ISALES_SIGNED_HEADERS": "content-type"}, "must be a header list that includes host"),
        ({"BATCHOPS_ISALES_TIMESTAMP_FORMAT": "unix"}, "must be one of iso-seconds, iso-millis, epoch-millis"),
    ],
)
def test_bad_values_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(config_path=None, env=env)


def test_secrets_never_in_repr_or_errors(config: Path) -> None:
    settings = load_settings("lab", config_path=config, env={"BATCHOPS_APP_SECRET": "env-secret-xyz"})
    for text in (repr(settings), str(settings), str(settings.describe())):
        assert "env-secret-xyz" not in text and "lab-sk-value" not in text
    path = config.parent / "bad.toml"
    path.write_text('[profiles.default]\napp_secret = 12345678\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config_path=path, env={})
    assert "12345678" not in str(info.value)


def test_plan_names_every_missing_setting_in_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from batchops.cli import run

    path = tmp_path / "routes.csv"
    path.write_text("id,devicetype,deviceId\n1125397061153369092,1,5\n", encoding="utf-8")
    assert run(["plan", str(path), "--journal", str(tmp_path / "j.sqlite3")]) == 3
    err = capsys.readouterr().err
    assert err.count("Error:") == 1
    assert err.startswith("Error: 3 settings are not set: the C1 gateway URL, the C1 app key and the C1 app secret. "
                          "Set BATCHOPS_BASE_URL, BATCHOPS_APP_KEY and BATCHOPS_APP_SECRET, or base_url, app_key "
                          "and app_secret in [profiles.default] of ")
