"""Sign-in through a city's OpenID Connect provider (Authlib's Flask client).

Authorization code flow with state and nonce kept in the session; Authlib checks the
ID token's signature against the provider's JWKS, its issuer, audience, expiry and
nonce. The role comes from one claim (`auth.oidc.roles_claim`), mapped through
`auth.oidc.role_map` (or naming a Damamaya role directly); an account with no role
is refused. The person gets a row in `users` (origin oidc) so that an admin can
disable them and the audit log names them.
"""
from __future__ import annotations

import os

from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, redirect, request, session, url_for

from engine.accounts import ROLES

bp = Blueprint("security_oidc", __name__)
CLIENT = "city"
_oauth = OAuth()
_registered: dict[str, object] = {}


def install_oidc(app: Flask) -> None:
    _oauth.init_app(app)
    app.register_blueprint(bp)


def _settings():
    from damamaya import runtime

    return runtime.config().auth.oidc


def _client():
    cfg = _settings()
    key = f"{cfg.metadata_url}|{cfg.client_id}"
    if key not in _registered:  # registered on first use: the config is read at request time
        name = f"{CLIENT}{len(_registered)}"
        _registered[key] = _oauth.register(
            name, server_metadata_url=cfg.metadata_url, client_id=cfg.client_id,
            client_secret=os.environ.get(cfg.client_secret_env, ""), client_kwargs={"scope": cfg.scope},
            overwrite=True)
    return _registered[key]


def role_from_claims(claims: dict, claim: str, role_map: dict[str, str]) -> str | None:
    """The most powerful Damamaya role named by the claim (a string or a list), or None."""
    value = claims.get(claim)
    values = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    found = {role_map.get(v, v) for v in values if isinstance(v, str)}
    return next((role for role in ROLES if role in found), None)


@bp.get("/auth/oidc/login")
def oidc_login():
    from security.views import _safe_next

    if _settings() is None:
        return redirect("/login", 302)
    session["oidc_next"] = _safe_next(request.args.get("next"), "")
    return _client().authorize_redirect(url_for("security_oidc.oidc_callback", _external=True))


@bp.get("/auth/oidc/callback")
def oidc_callback():
    from security.principal import accounts
    from security.views import login_page, message, sign_in

    cfg = _settings()
    if cfg is None:
        return redirect("/login", 302)
    try:
        token = _client().authorize_access_token()
    except Exception as exc:  # noqa: BLE001 - Authlib raises OAuthError, requests and JOSE errors alike
        return login_page(401, message("auth.sso_failed", reason=type(exc).__name__))
    claims = token.get("userinfo") or {}
    role = role_from_claims(claims, cfg.roles_claim, cfg.role_map)
    name = str(claims.get(cfg.username_claim) or claims.get("sub") or "")
    if not role or not name:
        return login_page(403, message("auth.sso_no_role"))
    user = accounts().external_login(name, role)
    if user is None:
        return login_page(403, message("auth.wrong"))
    target = session.pop("oidc_next", "") or ""
    sign_in(user.name, user.role)
    from security.views import _safe_next

    return redirect(_safe_next(target, user.role), 303)
