"""The web desk (Flask): pages that call engine functions and render what comes back.

``create_app`` is the only way in; the desk lives in ``app.extensions`` so
nothing holds state at module level and tests can run many apps side by side.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, render_template
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import Forbidden, NotAllowed, NotFound, StepError
from supportdesk.engine.people.users import person_for_session
from supportdesk.engine.settings import Settings
from supportdesk.handlers import REGISTRY

from . import edges

EXTENSION_KEY = "supportdesk"


def current_desk() -> Desk:
    """The desk of the app handling this request."""
    return current_app.extensions[EXTENSION_KEY]


# Flask cannot guess an instance folder for a package inside the editable install's
# ``supportdesk`` namespace (its finder path is not a directory), so we name one.
# The desk keeps nothing there; settings come from ``Settings``.
INSTANCE_PATH = Path(__file__).resolve().parent / "instance"


def create_app(desk: Desk | None = None, *, testing: bool = False) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_PATH))
    desk = desk or Desk(Settings.from_env(), REGISTRY)
    app.extensions[EXTENSION_KEY] = desk
    app.config.update(
        TESTING=testing,
        SECRET_KEY=desk.settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure: browsers send the cookies over HTTPS only (SUPPORTDESK_SECURE_COOKIES, or an https portal URL).
        SESSION_COOKIE_SECURE=desk.settings.cookies_secure,
        REMEMBER_COOKIE_SECURE=desk.settings.cookies_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
    )
    # First of all: the body size, NUL bytes, JSON depth, integer ids (web.edges), before any view or CSRF check.
    settings = desk.settings
    edges.install(
        app,
        settings.max_request_bytes,
        edges.upload_limit(settings.max_attachments_bytes, settings.max_request_bytes),
    )
    CSRFProtect(app)
    app.after_request(_security_headers)
    _set_up_login(app)
    _register_blueprints(app)
    _register_error_pages(app)
    _register_filters(app)
    return app


# Pages carry no inline script or style: everything comes from /static, so a strict
# policy costs nothing and blunts any markup that slipped past escaping.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _set_up_login(app: Flask) -> None:
    from .access import DeskUser

    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = "Please sign in to see that page."
    manager.login_message_category = "info"

    @manager.user_loader
    def load_user(user_id: str) -> DeskUser | None:
        # The session keeps "id:epoch" (DeskUser.get_id). A deleted user, an epoch moved on (signed out,
        # new password, a role taken away) or an old cookie format signs the browser out, never raises.
        user, _, epoch = user_id.partition(":")
        if not (user.isdigit() and epoch.isdigit()):
            return None
        person = person_for_session(current_desk(), int(user), int(epoch))
        return DeskUser(person) if person else None


def _register_blueprints(app: Flask) -> None:
    from . import actions, admin, admin_migration, auth, portal, reports, tasks, tickets

    for blueprint in (
        auth.blueprint,
        tasks.blueprint,
        tickets.blueprint,
        actions.blueprint,
        reports.blueprint,
        admin.blueprint,
        admin_migration.blueprint,
        portal.blueprint,
    ):
        app.register_blueprint(blueprint)
    from . import mail_review  # held mail (C03)

    app.register_blueprint(mail_review.blueprint)
    from . import conversation  # replies, notes, call-backs, files, portal links (issue 19)

    app.register_blueprint(conversation.blueprint)
    from . import diagrams  # the versions' diagram files, which the pages draw (issue 21)

    app.register_blueprint(diagrams.blueprint)
    from . import process_insight  # per element: tickets there, passed, working time, breaches (issue 21)

    app.register_blueprint(process_insight.blueprint)
    from . import live  # pages that stay current without a reload (issue 20)

    app.register_blueprint(live.blueprint)
    app.add_template_global(live.live_since)
    from . import auditor_desk, board, landing  # the manager's board, the auditor's desk (issue 20)

    app.register_blueprint(board.blueprint)
    app.register_blueprint(auditor_desk.blueprint)
    app.add_url_rule("/", "home", landing.home)  # each role's landing page
    # The REST API (/api/v1) signs in with bearer tokens, never the session cookie: no CSRF token to check.
    from . import api

    for blueprint in api.register(app):
        app.extensions["csrf"].exempt(blueprint)


def _register_error_pages(app: Flask) -> None:
    def page(status: int, title: str, message: str):
        return render_template("error.html", title=title, message=message), status

    app.register_error_handler(403, lambda _e: page(403, "Not allowed", "Your role does not allow this page."))
    # An address under /api/ that matches no rule at all (a newline in a path) is the API's: a problem, not a page.
    app.register_error_handler(
        404, edges.api_problem_or(lambda _e: page(404, "Not found", "There is nothing at this address."))
    )
    # The engine's NotFound carries a message a person can act on; show it.
    app.register_error_handler(NotFound, lambda e: page(404, "Not found", str(e)))
    app.register_error_handler(Forbidden, lambda e: page(403, "Not allowed", str(e)))
    app.register_error_handler(NotAllowed, lambda e: page(409, "Not possible now", str(e)))
    # A step of the diagram failed in the engine: what happened, who was told, what to do (not a 500).
    from . import step_failures

    app.register_error_handler(StepError, step_failures.page)
    app.register_error_handler(413, edges.too_large)
    app.register_error_handler(
        CSRFError,
        lambda _e: page(
            400,
            "Form not accepted",
            "The form had no valid security token (it may have expired). Go back, reload the page and try again.",
        ),
    )


FILTERS = (
    "local_time",
    "age",
    "role_name",
    "sentence",
    "label",
    "working_time",
    "clock_name",
    "moment",
    "task_context",
)


def _register_filters(app: Flask) -> None:
    from . import formatting

    for name in FILTERS:
        app.add_template_filter(getattr(formatting, name), name)
