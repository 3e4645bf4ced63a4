"""engine.accounts on SQLite and PostgreSQL: users, wall screens, audit rows, the session key."""
from __future__ import annotations

import pytest

from engine.accounts import AccountError, Accounts


@pytest.fixture(params=["sqlite", "postgresql"])
def accounts(request, tmp_path):
    url = f"sqlite:///{tmp_path}/h.sqlite" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    store = Accounts(url)
    store.create()
    yield store
    store.dispose()


def test_users_sign_in_with_their_password_only(accounts):
    accounts.add_user("dewi", "dispatcher", "a long password 1")
    assert accounts.authenticate("dewi", "a long password 1").role == "dispatcher"
    assert accounts.authenticate("dewi", "a long password 2") is None
    assert accounts.authenticate("nobody", "a long password 1") is None
    assert accounts.user("dewi").last_login is not None
    from engine.accounts import users

    with accounts.engine.connect() as conn:
        stored = conn.execute(users.select()).mappings().one()["password_hash"]
    assert stored.startswith("$argon2id$") and "a long password" not in stored


def test_bad_users_are_refused_with_a_reason(accounts):
    accounts.add_user("oka", "operator", "a long password 1")
    with pytest.raises(AccountError, match="exists already"):
        accounts.add_user("oka", "operator", "a long password 1")
    with pytest.raises(AccountError, match="unknown role"):
        accounts.add_user("x", "mayor", "a long password 1")
    with pytest.raises(AccountError, match="at least 10"):
        accounts.add_user("y", "analyst", "short")
    with pytest.raises(AccountError, match="a name is"):
        accounts.add_user("<b>z</b>", "analyst", "a long password 1")
    with pytest.raises(AccountError, match="no user"):
        accounts.disable_user("ghost")


def test_a_disabled_user_cannot_sign_in(accounts):
    accounts.add_user("leaver", "analyst", "a long password 1")
    accounts.disable_user("leaver")
    assert accounts.user("leaver").disabled
    assert accounts.authenticate("leaver", "a long password 1") is None


def test_sso_users_follow_the_claim_and_never_take_over_a_local_name(accounts):
    assert accounts.external_login("putu@denpasar", "analyst").role == "analyst"
    assert accounts.external_login("putu@denpasar", "supervisor").role == "supervisor"
    accounts.add_user("ada", "admin", "a long password 1")
    assert accounts.external_login("ada", "admin") is None
    accounts.disable_user("putu@denpasar")
    assert accounts.external_login("putu@denpasar", "supervisor") is None
    assert accounts.authenticate("putu@denpasar", "") is None  # no password at all


def test_screens_keep_only_a_hash_of_their_token(accounts):
    token = accounts.add_screen("lobby")
    assert accounts.screen_for_token(token).name == "lobby"
    assert accounts.screen_for_token(token + "x") is None
    from engine.accounts import wall_screens

    with accounts.engine.connect() as conn:
        row = conn.execute(wall_screens.select()).mappings().one()
    assert token not in str(dict(row))
    accounts.revoke_screen("lobby")
    assert accounts.screen_for_token(token).revoked_at is not None
    with pytest.raises(AccountError, match="no active screen"):
        accounts.revoke_screen("lobby")


def test_audit_rows_and_one_session_key_for_every_process(accounts):
    accounts.audit("user:dewi", "incident.private", "calls:c1", ["caller_phone", "address"], "10.0.0.5")
    row = accounts.audit_rows()[0]
    assert (row["actor"], row["record"], row["fields"], row["remote"]) == ("user:dewi", "calls:c1", "caller_phone,address",
                                                                          "10.0.0.5")
    key = accounts.secret("session")
    other = Accounts(engine=accounts.engine)
    assert other.secret("session") == key and len(key) >= 48


def test_a_revoked_screen_and_a_disabled_user_are_seen_at_once_by_the_process_that_changed_them(tmp_path):
    accounts = Accounts(f"sqlite:///{tmp_path}/a.sqlite")
    accounts.create()
    token = accounts.add_screen("hall")
    accounts.add_user("made", "operator", "a long enough password")
    assert accounts.screen_for_token(token).revoked_at is None and not accounts.user("made").disabled  # now remembered
    accounts.revoke_screen("hall")
    accounts.disable_user("made")
    assert accounts.screen_for_token(token).revoked_at is not None
    assert accounts.user("made").disabled
