"""Who is calling the API: a personal token (``Authorization: Bearer sdk_...``), never a session cookie.

The person behind the token gets exactly the web desk's roles and checks (``web.access``): the same
role lists guard the same actions, and the engine's own checks (a task's lane) apply on top.
Creating a token also accepts the person's username and password (HTTP Basic), so someone with
no token yet can make their first one without an admin.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import g, request

from supportdesk.engine.people import api_tokens, users
from supportdesk.engine.people.throttle import TooManyAttempts

from .. import current_desk
from ..access import DeskUser
from .problems import Problem

BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "sdk_ token",
    "description": "A personal API token: `supportdesk users token create USERNAME --name ...`, "
    "or `POST /api/v1/tokens`. Shown once; send it as `Authorization: Bearer <token>`.",
}
BASIC_SCHEME = {
    "type": "http",
    "scheme": "basic",
    "description": "Username and password: only to create a token (`POST /api/v1/tokens`). With "
    "two-factor sign-in, also the one-time code in an `X-OTP-Code` header. Failed "
    "sign-ins are throttled per account and per address (429, `Retry-After`).",
}
REALM = 'Bearer realm="supportdesk"'
OTP_HEADER = "X-OTP-Code"  # the one-time code, with Basic auth, for a person with two-factor sign-in


def api_user() -> DeskUser:
    """The person the current API request acts as (set by ``guarded``)."""
    return g.api_user


def _unauthenticated(detail: str, *, bad_token: bool = False) -> Problem:
    challenge = f'{REALM}, error="invalid_token"' if bad_token else REALM
    return Problem("unauthenticated", detail, headers={"WWW-Authenticate": challenge})


def authenticate(*, allow_basic: bool = False) -> DeskUser:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        try:
            person = api_tokens.person_for_token(current_desk(), credentials)
        except users.SignInRefused as refused:  # a disabled person's token: checked on every request
            raise _unauthenticated(str(refused), bad_token=True) from None
        if person is None:
            raise _unauthenticated("The API token is unknown or revoked.", bad_token=True)
        return DeskUser(person)
    basic = request.authorization if allow_basic else None
    if basic is not None and basic.type == "basic" and basic.username:
        # Throttled like the web form's sign-in (engine.throttle), shared by every process through the store.
        try:
            person = users.authenticate(
                current_desk(),
                basic.username,
                basic.password or "",
                address=request.remote_addr,
                code=request.headers.get(OTP_HEADER),
            )
        except TooManyAttempts as refused:
            raise Problem(
                "too-many-attempts", str(refused), headers={"Retry-After": str(refused.retry_after)}
            ) from None
        except users.SignInRefused as refused:  # disabled, or a temporary password still to be replaced
            raise _unauthenticated(str(refused)) from None
        if person is None:
            raise _unauthenticated(
                f"Unknown username, wrong password, or (with two-factor sign-in) a missing or "
                f"wrong one-time code in the {OTP_HEADER} header."
            )
        return DeskUser(person)
    raise _unauthenticated(
        "Send a personal API token: Authorization: Bearer <token>. Session cookies do not sign in to the API."
    )


def guarded(blp, *roles: str, errors: tuple[int, ...] = (), allow_basic: bool = False) -> Callable:
    """Authenticate the caller (401), check they have one of ``roles`` (403; none given: any signed-in
    person; admin passes every check), then run the view. Documents those answers and ``errors``.

    Put it under ``@blp.route`` and above ``@blp.arguments``, so nobody learns anything from
    input checks before they are known."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(*args, **kwargs):
            user = authenticate(allow_basic=allow_basic)
            if roles and not user.has_any(*roles):
                allowed = ", ".join(role.replace("_", " ") for role in roles)
                raise Problem(
                    "forbidden",
                    f"This needs one of the roles: {allowed}; {user.username} has {', '.join(user.roles) or 'none'}.",
                )
            g.api_user = user
            return view(*args, **kwargs)

        documented = checked
        for status in sorted({401, *((403,) if roles else ()), *((429,) if allow_basic else ()), *errors}):
            documented = blp.alt_response(status, response=_RESPONSE_NAMES[status])(documented)
        if allow_basic:
            documented = blp.doc(security=[{"bearerAuth": []}, {"basicAuth": []}])(documented)
        return documented

    return decorate


_RESPONSE_NAMES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    422: "UNPROCESSABLE_ENTITY",
    429: "TOO_MANY_REQUESTS",
}
