"""Idempotency keys on the create endpoints (``Idempotency-Key``): the request's side of
``engine.people.idempotency``, which runs the command once per key in the command's own transaction.
A replayed answer carries ``Idempotent-Replayed: true``; a key reused for another request is refused
(422, nothing run).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import current_app, request

from supportdesk.engine.desk import Desk
from supportdesk.engine.people.idempotency import Answer, KeyReused, Request, Respond, run_once

from .. import current_desk
from .auth import api_user
from .problems import Problem

REPLAYED_HEADER = "Idempotent-Replayed"


def request_hash() -> str:
    """The body as JSON with sorted keys: the same request however its keys were ordered or spaced."""
    body = request.get_json(silent=True)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def create(
    *,
    key: str | None,
    endpoint: str,
    command: Callable[[Desk], Any],
    respond: Respond,
    location: Callable[[dict], str],
    status: int = 201,
):
    """Run ``command`` on the desk once per (person, key); answer ``status`` with ``respond``'s body."""
    asked = Request(api_user().person.id, key, endpoint, request_hash() if key is not None else "")
    try:
        answer = run_once(current_desk(), asked, command, respond, status)
    except KeyReused as exc:
        raise Problem("idempotency-key-reused", str(exc)) from None
    return _response(answer, location)


def _response(answer: Answer, location: Callable[[dict], str]):
    response = current_app.response_class(answer.body, status=answer.status, mimetype="application/json")
    response.headers["Location"] = location(json.loads(answer.body))
    if answer.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response
