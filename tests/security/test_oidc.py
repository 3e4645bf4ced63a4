"""Sign-in through OpenID Connect against a small but real provider on localhost: discovery,
JWKS, an authorization endpoint that approves at once, and a token endpoint that returns an
RS256-signed ID token. Real HTTP both ways; nothing mocked."""
from __future__ import annotations

import os
import secrets
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "damamaya"
CLIENT_SECRET = secrets.token_urlsafe(16)


class FakeProvider:
    """One identity per run: `self.claims` are what the next sign-in asserts."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.signing_key = self.key
        self.claims: dict = {}
        self.codes: dict[str, dict] = {}
        app = Flask("fake-oidc")
        app.add_url_rule("/.well-known/openid-configuration", view_func=self.discovery)
        app.add_url_rule("/authorize", view_func=self.authorize)
        app.add_url_rule("/token", view_func=self.token, methods=["POST"])
        app.add_url_rule("/jwks", view_func=self.jwks)
        self.server = make_server("localhost", 0, app, threaded=True)
        self.issuer = f"http://localhost:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def discovery(self):
        return jsonify({"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                        "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                        "response_types_supported": ["code"], "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "token_endpoint_auth_methods_supported": ["client_secret_basic"]})

    def authorize(self):
        args = request.args
        assert args["client_id"] == CLIENT_ID and args["response_type"] == "code" and "openid" in args["scope"]
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"nonce": args.get("nonce"), "redirect_uri": args["redirect_uri"]}
        return redirect(f"{args['redirect_uri']}?code={code}&state={args['state']}")

    def token(self):
        if request.authorization is None or (request.authorization.username, request.authorization.password) != (
                CLIENT_ID, CLIENT_SECRET):
            return jsonify({"error": "invalid_client"}), 401
        grant = self.codes.pop(request.form.get("code", ""), None)
        if grant is None or request.form.get("redirect_uri") != grant["redirect_uri"]:
            return jsonify({"error": "invalid_grant"}), 400
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300, "nonce": grant["nonce"], **self.claims}
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.signing_key)
        return jsonify({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                        "id_token": id_token})

    def jwks(self):
        return jsonify({"keys": [self.key.as_dict(private=False)]})

    def close(self):
        self.server.shutdown()


@pytest.fixture
def provider(secured, tmp_path, embedded_redis_url, monkeypatch):
    from secure_client import point_runtime_at, write_config

    fake = FakeProvider()
    before = os.environ["DAMAMAYA_CONFIG"]
    monkeypatch.setenv("DMY_TEST_OIDC_SECRET", CLIENT_SECRET)
    oidc = (f"  oidc:\n    metadata_url: {fake.issuer}/.well-known/openid-configuration\n    client_id: {CLIENT_ID}\n"
            f"    client_secret_env: DMY_TEST_OIDC_SECRET\n    roles_claim: groups\n"
            f"    role_map: {{pemkot-pimpinan: pimpinan, pemkot-112: dispatcher}}\n    label: SSO Pemkot")
    point_runtime_at(write_config(tmp_path / "config.yaml", embedded_redis_url, f"sqlite:///{tmp_path}/h.sqlite", auth=oidc))
    yield fake
    point_runtime_at(before)
    fake.close()


def _sign_in_through(app_module, next_path: str = "/kpi"):
    client = app_module.server.test_client()
    start = client.get(f"/auth/oidc/login?next={next_path}")
    assert start.status_code == 302
    to_provider = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert to_provider.status_code == 302
    back = urlsplit(to_provider.headers["Location"])
    assert back.path == "/auth/oidc/callback" and "code" in parse_qs(back.query)
    return client, client.get(f"{back.path}?{back.query}")


def test_a_city_sso_user_signs_in_with_the_role_of_their_claim(secured, provider):
    app_module, _ = secured
    provider.claims = {"sub": "u-81", "preferred_username": "wayan@denpasarkota.go.id", "groups": ["staff", "pemkot-pimpinan"]}
    assert "SSO Pemkot" in app_module.server.test_client().get("/login").text
    client, done = _sign_in_through(app_module, "/kpi")
    assert done.status_code == 303 and done.headers["Location"] == "/kpi"
    assert client.get("/kpi").status_code == 200
    assert client.get("/wall").status_code == 403  # pimpinan: no wall
    from security.principal import accounts

    user = accounts().user("wayan@denpasarkota.go.id")
    assert user.role == "pimpinan" and user.origin == "oidc"


def test_a_token_signed_by_another_key_is_refused(secured, provider):
    app_module, _ = secured
    provider.claims = {"sub": "u-82", "preferred_username": "mallory", "groups": ["pemkot-112"]}
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    client, done = _sign_in_through(app_module)
    assert done.status_code == 401 and "SSO" in done.text
    assert client.get("/wall").status_code == 302


def test_an_sso_account_without_a_damamaya_role_is_refused(secured, provider):
    app_module, _ = secured
    provider.claims = {"sub": "u-83", "preferred_username": "tamu", "groups": ["staff"]}
    client, done = _sign_in_through(app_module)
    assert done.status_code == 403 and "no Damamaya role" in done.text
    assert client.get("/kpi").status_code == 302


def test_a_disabled_sso_user_stays_out(secured, provider):
    app_module, _ = secured
    from security.principal import accounts

    provider.claims = {"sub": "u-84", "preferred_username": "keluar", "groups": ["pemkot-112"]}
    client, done = _sign_in_through(app_module, "/wall")
    assert done.status_code == 303 and client.get("/wall").status_code == 200
    accounts().disable_user("keluar")
    assert client.get("/wall").status_code == 302
    provider.claims = dict(provider.claims)
    _, again = _sign_in_through(app_module, "/wall")
    assert again.status_code == 403
