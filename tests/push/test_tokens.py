"""Push tokens: what the wall page mints, the push process verifies."""
from __future__ import annotations

import pytest

from push import tokens

SECRET = b"s3cret"


def test_a_minted_token_verifies_to_its_screen():
    token = tokens.mint(SECRET, "screen-1", 60, now=1_000)
    assert tokens.verify(SECRET, token, now=1_030) == "screen-1"


def test_an_expired_token_is_refused():
    token = tokens.mint(SECRET, "screen-1", 60, now=1_000)
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(SECRET, token, now=1_061)


@pytest.mark.parametrize("tamper", [
    lambda t: t.replace("screen-1", "screen-2", 1),               # another screen
    lambda t: "screen-1.9999999999." + t.rsplit(".", 1)[1],        # a later expiry
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),   # a forged signature
])
def test_a_tampered_token_is_refused(tamper):
    token = tokens.mint(SECRET, "screen-1", 60, now=1_000)
    with pytest.raises(tokens.TokenError, match="bad signature"):
        tokens.verify(SECRET, tamper(token), now=1_010)


def test_a_token_of_another_secret_is_refused():
    token = tokens.mint(b"other", "screen-1", 60, now=1_000)
    with pytest.raises(tokens.TokenError, match="bad signature"):
        tokens.verify(SECRET, token, now=1_010)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "screen.12x.sig", "bad id!.123.sig", "a.1.b.c"])
def test_malformed_tokens_are_refused(garbage):
    with pytest.raises(tokens.TokenError, match="malformed"):
        tokens.verify(SECRET, garbage)


def test_screen_ids_are_checked_when_minting():
    with pytest.raises(ValueError):
        tokens.mint(SECRET, "no spaces", 60)


def test_the_shared_secret_comes_from_the_environment_or_one_kept_in_redis(redis_client, monkeypatch):
    monkeypatch.delenv(tokens.SECRET_ENV, raising=False)
    first = tokens.shared_secret(redis_client, "dmy")
    assert len(first) >= 32 and tokens.shared_secret(redis_client, "dmy") == first  # one secret for every process
    monkeypatch.setenv(tokens.SECRET_ENV, "from-env")
    assert tokens.shared_secret(redis_client, "dmy") == b"from-env"
