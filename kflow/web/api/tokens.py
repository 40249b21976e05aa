"""/api/v1/tokens: the caller's own API tokens (list, create, revoke), and recording their use.

Routes are added to the API blueprint; kflow.web.api imports this module.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from kflow.accounts import tokens as api_tokens
from kflow.accounts.models import ApiToken
from kflow.db import utcnow
from kflow.org.models import User
from kflow.web import db
from kflow.web.api import authority, bp, json_body

log = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store"}


def token_json(token: ApiToken) -> dict[str, Any]:
    """A token as the API shows it: never its hash, and the secret only once (at creation)."""
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _me() -> User:
    user = authority().actor.user
    assert user is not None
    return user


@bp.get("/tokens")
def list_tokens() -> Response:
    page = api_tokens.own_tokens(
        db.session(), _me(), limit=request.args.get("limit"), offset=request.args.get("offset")
    )
    response = jsonify(items=[token_json(t) for t in page.items], total=page.total)
    response.headers.update(NO_STORE)
    return response


@bp.post("/tokens")
def create_token() -> tuple[Response, int, dict[str, str]]:
    body = json_body()
    token, plain = api_tokens.create_own(
        db.session(), _me(), body.get("name"), minted_by_id=g.get("api_token_minter")
    )
    return jsonify({**token_json(token), "token": plain}), 201, NO_STORE


@bp.delete("/tokens/<int:token_id>")
def revoke_token(token_id: int) -> Response:
    api_tokens.revoke_own(db.session(), _me(), token_id)
    return Response(status=204, mimetype="application/json")


@bp.after_app_request
def _record_token_use(response: Response) -> Response:
    """Write the token's last_used_at, at most every few minutes, in a transaction of its own.

    Runs after the request's own transaction has been committed (or not): its session is closed
    first, so a read-only request never writes and a write never waits for itself. Best effort:
    a busy database only means the use is recorded next time.
    """
    token_id = g.pop("api_token_touch", None)
    if token_id is None:
        return response
    db.discard()
    try:
        with db.runtime().transaction() as session:
            api_tokens.touch(session, token_id, utcnow())
    except SQLAlchemyError as exc:
        log.info("last_used_at of token %s not recorded: %s", token_id, type(exc).__name__)
    return response
