"""Who am I, and personal API tokens (``engine.api_tokens``): anyone makes, lists and revokes their own;
an admin also those of others. A new token is in the answer once and never again.

Creating a token has no Idempotency-Key: the answer holds the token, which is never stored; a client
that lost the answer revokes the token it cannot see (``GET /tokens`` lists it) and makes another.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import url_for

from supportdesk.engine.people import api_tokens

from .. import current_desk
from . import schemas
from .auth import api_user, guarded
from .base import ApiBlueprint

blp = ApiBlueprint("Tokens", __name__, description="Who am I; personal API tokens")


def _token(info: api_tokens.TokenInfo) -> dict:
    return {**asdict(info), "active": info.active}


@blp.route("/me")
@guarded(blp)
@blp.response(200, schemas.Me)
def me():
    """Who the token signs in"""
    person = api_user().person
    return {
        "username": person.username,
        "display_name": person.display_name,
        "email": person.email,
        "roles": list(person.roles),
    }


@blp.route("/tokens", methods=["POST"])
@guarded(blp, errors=(400, 403, 404), allow_basic=True)
@blp.arguments(schemas.TokenIn)
@blp.response(201, schemas.NewToken, headers={"Location": {"schema": {"type": "string"}}})
def create_token(body: dict):
    """Create an API token

    For yourself, or (admin) for ``username``. The token is in this answer only: keep it. Also
    accepts your username and password (HTTP Basic), to make your first token.
    """
    user = api_user()
    info, token = api_tokens.create_token(
        current_desk(), body["username"] or user.username, body["name"], by=user.person
    )
    return {**_token(info), "token": token}, 201, {"Location": url_for("Tokens.list_tokens", username=info.username)}


@blp.route("/tokens")
@guarded(blp, errors=(400, 403))
@blp.arguments(schemas.TokenQuery, location="query")
@blp.response(200, schemas.TokenList)
def list_tokens(query: dict):
    """List API tokens

    Yours (an admin: everyone's, or ``username``'s), newest first; never the tokens themselves.
    """
    user = api_user()
    infos = api_tokens.list_tokens(current_desk(), username=query.get("username"), by=user.person)
    return {"items": [_token(info) for info in infos]}


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@guarded(blp, errors=(403, 404))
@blp.response(200, schemas.Token)
def revoke_token(token_id: int):
    """Revoke an API token

    Yours, or (admin) anyone's. It stops working at once; revoking again changes nothing.
    """
    return _token(api_tokens.revoke_token(current_desk(), token_id, by=api_user().person))
