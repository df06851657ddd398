"""Secret masking: mask, redact, Secret."""

from __future__ import annotations

import copy
import json
import logging
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchops.secrets import MASK, SECRET_KEYS, Secret, is_secret_key, mask, redact


def test_mask_keeps_two_characters_of_a_long_value_only() -> None:
    assert mask("abcdefghijklmnop") == "ab****"
    assert mask("short") == "****"
    assert mask("") == "****"
    assert mask(Secret("abcdefghijklmnop")) == "ab****"


@pytest.mark.parametrize("key", ["app_secret", "APP_SECRET", "appSecret", "AccessToken", "accesstoken",
                                 "authorization", "sipPwd", "SIPPWD", "sk", "token", "password", "x-auth-token"])
def test_secret_keys_match_ignoring_case_and_separators(key: str) -> None:
    assert is_secret_key(key)


def test_plain_keys_are_not_secret() -> None:
    assert not any(is_secret_key(k) for k in ["userId", "app_key", "AppKey", "returnCode", "skill", 3])
    assert "sipPwd" in SECRET_KEYS


def test_redact_masks_nested_secrets_and_leaves_the_rest() -> None:
    original = {
        "app_key": "key-1",
        "app_secret": "very-secret-value",
        "agents": [{"userId": "1001", "sipPwd": "pw"}, ("x", {"Token": "t0k3n-abcdefgh"})],
        "headers": {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9", "X-APP-Key": "key-1"},
        "isales": {"authorization": "auth-v2/AK/2024-01-01T00:00:00Z/host/abcdef0123456789"},
        "held": Secret("held-secret"),
        "sk": 12345,
    }
    before = copy.deepcopy(original)
    out = redact(original)
    assert original == before  # a copy, never in place
    assert out["app_key"] == "key-1"
    assert out["app_secret"] == "ve****"
    assert out["agents"][0] == {"userId": "1001", "sipPwd": MASK}
    assert out["agents"][1] == ["x", {"Token": "t0****"}]
    assert out["headers"] == {"Authorization": "Bearer ****", "X-APP-Key": "key-1"}
    assert out["isales"]["authorization"] == "au****"
    assert out["held"] == MASK
    assert out["sk"] == MASK
    dumped = json.dumps(out)
    for secret in ["very-secret-value", "pw\"", "t0k3n-abcdefgh", "eyJhbGciOiJIUzI1NiJ9", "abcdef0123456789",
                   "held-secret", "12345"]:
        assert secret not in dumped


def test_redact_handles_httpx_headers() -> None:
    import httpx

    headers = httpx.Headers({"Authorization": "Bearer tok-tok-tok-tok", "X-APP-Key": "k"})
    assert redact(headers) == {"authorization": "Bearer ****", "x-app-key": "k"}


def test_secret_never_shows_its_value(caplog: pytest.LogCaptureFixture) -> None:
    value = "the-app-secret-42"
    secret = Secret(value)
    # Every formatting path on purpose, the old ones included: each calls the Secret differently.
    old_style = ["%s" % secret, "{}".format(secret)]  # noqa: UP031, UP032
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", *old_style, repr([secret]), repr({"s": secret})]
    assert all(value not in text for text in shown)
    assert str(secret) == MASK and repr(secret) == "Secret('****')"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("batchops.test").info("secret is %s / %r", secret, secret)
    assert value not in caplog.text
    assert secret.reveal() == value


def test_secret_equality_copy_and_pickle() -> None:
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
    assert hash(Secret("a")) == hash(Secret("a"))
    assert copy.deepcopy(Secret("a")).reveal() == "a"
    assert Secret(Secret("x")).reveal() == "x"
    assert not Secret("") and len(Secret("abc")) == 3
    with pytest.raises(TypeError):
        pickle.dumps(Secret("a"))
    with pytest.raises(TypeError):
        Secret(123)  # type: ignore[arg-type]


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=3, max_size=60))
def test_redacted_secret_never_appears_whole(value: str) -> None:
    out = redact({"nested": [{"AccessToken": value, "password": value}], "Authorization": value})
    # Look at the masked values, not the whole dump: a value like "pas" is part of the key "password".
    for masked in (out["nested"][0]["AccessToken"], out["nested"][0]["password"], out["Authorization"]):
        assert value not in masked
