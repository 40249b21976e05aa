"""Signing in through the region's OpenID Connect provider (Authlib's Flask client).

``/login/sso`` sends the browser to the provider (authorization code flow with PKCE S256;
Authlib keeps ``state``, ``nonce`` and the code verifier in the signed cookie session), and
``/login/sso/callback`` takes it back: the code is exchanged for tokens, the ID token's
signature and claims are checked (``iss`` and ``aud`` pinned to the configuration, ``exp`` and
``iat`` with ``LEEWAY`` seconds of clock skew), missing claims are read from userinfo (same
``sub``), and kflow.accounts.sso says who the person is. Only then does anything write: the
account (when created or given mapped roles) and the sign-in session, in one transaction.

Every failure is a Swedish page, never a 500: a wrong or missing ``state``, a code used before,
an ID token that is expired or badly signed, or a provider that refuses are 400 (and count as a
failed sign-in from the address, kflow.accounts.throttle); no account is 403; a provider that
does not answer (discovery, token or userinfo) is 503. A transient database error while
signing in runs the request again (kflow.web.boundary), and the provider then refuses the code
it already gave out: the person sees the 400 page and starts again.

The ``OAuth`` registry is built per app in ``init_app`` (it caches the provider's discovery
document and keys for the process), and only when ``oidc.issuer`` is set.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request
from flask import session as cookie
from flask_login import login_user
from joserfc.errors import JoseError

from kflow.accounts import signin, sso
from kflow.accounts.throttle import Throttle
from kflow.db import utcnow
from kflow.web import boundary
from kflow.web.ui import auth
from kflow.web.ui.auth import LoginUser, _address, _client, _start_url, safe_next, too_many
from kflow.web.ui.base import CSP, install

log = logging.getLogger(__name__)

bp = Blueprint("oidc", __name__)
install(bp, login=False)

NAME = "idp"  # the client's name in Authlib's registry
EXTENSION = "authlib.integrations.flask_client"
MAPPINGS = "kflow.sso_mappings"
MAX_HINT = 2000  # bytes of ID token kept in the (4 KB at most) session cookie
ID_TOKEN = "oidc_id_token"  # noqa: S105 (a cookie key: the ID token kept as the logout hint)
NEXT = "oidc_next"  # in the cookie session while the browser is at the provider
LEEWAY = 120  # seconds of clock skew tolerated in the ID token's exp and iat

FAILED = (
    "Inloggningen via {provider} kunde inte slutföras. Länken kan ha använts redan eller gått "
    "ut, eller så kom svaret inte från inloggningen du startade. Börja om från inloggningssidan."
)
DOWN = (
    "Inloggningstjänsten svarar inte just nu, så det går inte att logga in med {provider}. "
    "Försök igen om en stund."
)


def init_app(app: Flask) -> None:
    """What the log-in page needs to know, and with ``oidc.issuer`` set the provider's client
    and routes. A malformed ``oidc.role_mappings`` stops start-up (ConfigError)."""
    settings = app.extensions["kflow"].settings
    oidc = settings.oidc
    app.jinja_env.globals.update(
        sso_provider=oidc.provider_name if oidc.enabled else None,
        local_passwords=settings.login.passwords,
    )
    if not oidc.enabled:
        return
    app.extensions[MAPPINGS] = sso.parse_mappings(oidc.role_mappings)
    # Signing out (kflow.web.ui.auth.logout) asks here where to send the browser.
    app.extensions[auth.LOGOUT_AT_PROVIDER] = lambda: logout_url(cookie.get(ID_TOKEN))
    oauth = OAuth(app)
    oauth.register(
        NAME,
        client_id=oidc.client_id,
        client_secret=oidc.client_secret,
        server_metadata_url=f"{oidc.issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={
            "scope": oidc.scopes,
            "code_challenge_method": "S256",
            "default_timeout": oidc.timeout_seconds,
        },
    )
    # Signing out is a form (POST /logout) answered with a redirect to the provider, which the
    # policy's form-action must allow.
    origin = "/".join(oidc.issuer.split("/", 3)[:3])
    app.config["KFLOW_CSP"] = CSP.replace("form-action 'self'", f"form-action 'self' {origin}")
    app.register_blueprint(bp)


def _idp() -> Any:
    return current_app.extensions[EXTENSION].create_client(NAME)


def _url(path: str) -> str:
    return f"{boundary.runtime().settings.base_url.rstrip('/')}{path}"


@bp.get("/login/sso")
def start() -> Any:
    next_url = safe_next(request.args.get("next"))
    try:
        response = _idp().authorize_redirect(_url("/login/sso/callback"))
    except requests.RequestException as exc:
        return _down(exc)
    cookie.pop(NEXT, None)
    if next_url:
        cookie[NEXT] = next_url
    return response


@bp.get("/login/sso/callback")
def callback() -> Any:
    settings = boundary.runtime().settings
    now = utcnow()
    # The address only: the provider, not a typed e-mail address, says whose account it is.
    throttle = Throttle.of(settings.login, settings.secret_key, "", _address())
    with boundary.reading() as read:
        wait = throttle.wait_seconds(read, now)
    if wait > 0:
        return _page(too_many(wait), 429, {"Retry-After": str(wait)})
    try:
        claims, id_token = _verified_claims()
    except requests.HTTPError as exc:
        if exc.response is not None and exc.response.status_code >= 500:
            return _down(exc)
        return _failed(throttle, exc)
    except requests.RequestException as exc:
        return _down(exc)
    except (AuthlibBaseError, JoseError) as exc:
        return _failed(throttle, exc)
    oidc = settings.oidc
    who = sso.identity(claims, oidc)
    try:
        with boundary.writing() as write:
            user = sso.sign_in(write, who, oidc, current_app.extensions[MAPPINGS], oidc.issuer)
            earlier = signin.parse(cookie.get("_user_id"))
            if earlier is not None:  # signing in again ends the session this browser had
                signin.end(write, earlier[0], "signed_in_again", now)
            cookie_value = signin.start(write, user, _client(), now, method="oidc")
    except sso.SignInRefused as exc:
        log.info("Single sign-on refused for subject %r: %s", who.subject, exc.message)
        boundary.afterwards("failed sign-in", lambda own: throttle.failed(own, now))
        return _page(exc.message, 403)
    next_url = safe_next(cookie.get(NEXT))
    cookie.clear()  # a fresh session: nothing from before sign-in carries over
    # The logout hint, if it fits the cookie (an ID token with many groups may not): "" still
    # says the session came from the provider, which then asks the user to confirm.
    cookie[ID_TOKEN] = id_token if id_token and len(id_token) <= MAX_HINT else ""
    login_user(LoginUser(user, int(cookie_value.partition(".")[0]), cookie_value))
    flash(f"Välkommen, {user.name}!", "success")
    return redirect(next_url or _start_url(), 303)


def _verified_claims() -> tuple[dict[str, Any], str | None]:
    """The verified ID token's claims, completed from userinfo, and the ID token itself."""
    oidc = boundary.runtime().settings.oidc
    client = _idp()
    token = client.authorize_access_token(
        leeway=LEEWAY,
        claims_options={
            "iss": {"essential": True, "values": [oidc.issuer]},
            "aud": {"essential": True, "values": [oidc.client_id]},
        },
    )
    claims = dict(token.get("userinfo") or {})
    if not claims.get("sub"):
        raise AuthlibBaseError(description="no ID token in the token response")
    wanted = {oidc.email_claim, "name", oidc.hsa_id_claim, oidc.groups_claim} - {""}
    if not wanted <= claims.keys() and client.load_server_metadata().get("userinfo_endpoint"):
        info = client.userinfo(token=token)
        if info.get("sub") != claims["sub"]:
            raise AuthlibBaseError(description="userinfo is about another subject")
        claims = {**info, **claims}  # the signed ID token's claims win
    return claims, token.get("id_token")


def logout_url(id_token: str | None) -> str | None:
    """Where signing out sends the browser to sign out at the provider too (RP-initiated
    logout), or None: no ID token, no single sign-on, or a provider without the endpoint."""
    if id_token is None or MAPPINGS not in current_app.extensions:
        return None
    client = _idp()
    try:
        endpoint = client.load_server_metadata().get("end_session_endpoint")
    except requests.RequestException as exc:
        log.warning("Provider's discovery document unavailable at sign-out: %s", exc)
        return None
    if not endpoint:
        return None
    hint = {"id_token_hint": id_token} if id_token else {}
    url: str = client.create_logout_url(
        post_logout_redirect_uri=_url("/login"),
        client_id=boundary.runtime().settings.oidc.client_id,
        **hint,
    )["url"]
    return url


def _failed(throttle: Throttle, exc: Exception) -> Any:
    log.info("Single sign-on failed: %s: %s", type(exc).__name__, exc)
    now = utcnow()
    boundary.afterwards("failed sign-in", lambda own: throttle.failed(own, now))
    return _page(FAILED.format(provider=_provider()), 400)


def _down(exc: Exception) -> Any:
    log.warning("OpenID Connect provider unavailable: %s: %s", type(exc).__name__, exc)
    return _page(DOWN.format(provider=_provider()), 503, {"Retry-After": "30"})


def _provider() -> str:
    return str(boundary.runtime().settings.oidc.provider_name)


def _page(message: str, status: int, headers: dict[str, str] | None = None) -> Any:
    return render_template("ui/login_sso_failed.html", message=message), status, headers or {}
