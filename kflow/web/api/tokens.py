"""/api/v1/tokens: the caller's own API tokens (list, create, revoke).

Recording a token's use is kflow.web.api.base's, after the request (kflow.web.boundary).
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from kflow.accounts import tokens as api_tokens
from kflow.accounts.models import ApiToken
from kflow.org.models import User
from kflow.web import boundary
from kflow.web.api.base import authority, bp, json_body

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
        boundary.session(),
        _me(),
        limit=request.args.get("limit"),
        offset=request.args.get("offset"),
    )
    response = jsonify(items=[token_json(t) for t in page.items], total=page.total)
    response.headers.update(NO_STORE)
    return response


@bp.post("/tokens")
def create_token() -> tuple[Response, int, dict[str, str]]:
    body = json_body()
    token, plain = api_tokens.create_own(
        boundary.session(), _me(), body.get("name"), minted_by_id=g.get("api_token_minter")
    )
    return jsonify({**token_json(token), "token": plain}), 201, NO_STORE


@bp.delete("/tokens/<int:token_id>")
def revoke_token(token_id: int) -> Response:
    api_tokens.revoke_own(boundary.session(), _me(), token_id)
    return Response(status=204, mimetype="application/json")
