"""The auditor's desk (their landing page, C32): the command line's audit in the browser.

Verify the hash chains, replay every ticket, and what if under an uploaded calendar or SLA policy are
runs a worker does in the background (``engine.oversight.audit_runs``): the page asking for one shows
its progress, which ``static/audit_run.js`` follows by polling the run's status (JSON) and the page
shows the findings when it is done; the run goes on if the page is left. Replaying one ticket takes
a second or so and is shown at once, with its timeline and each difference field by field; a ticket's
history exports as the same JSON as ``supportdesk audit export``.
"""

from __future__ import annotations

import json
from datetime import datetime

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from supportdesk.engine.errors import InvalidInput, NotAllowed, NotFound
from supportdesk.engine.oversight import audit, audit_runs

from . import current_desk
from .access import requires_roles
from .formatting import local_time

blueprint = Blueprint("auditor_desk", __name__, url_prefix="/audit")

AUDITORS = ("auditor",)  # admin passes every check
RECENT_RUNS = 15
MAX_REFERENCE = 32  # a Call Reference (SUP-2026-000001) is 15 characters; the column holds 32


@blueprint.route("")
@requires_roles(*AUDITORS)
def desk():
    return _desk_page({}, 200)


def _desk_page(errors: dict[str, str], status: int, asked: dict | None = None):
    return render_template(
        "auditor_desk.html",
        runs=audit_runs.recent_runs(current_desk(), RECENT_RUNS),
        errors=errors,
        asked=asked or {},
        what_if_files=audit_runs.WHAT_IF_CHOICES,
        max_what_if_bytes=audit_runs.MAX_WHAT_IF_BYTES,
    ), status


@blueprint.route("/runs", methods=["POST"])
@requires_roles(*AUDITORS)
def start_run():
    """Queue a run for a worker and show its page; a what-if run comes with its file."""
    kind = request.form.get("kind", "")
    try:
        what_if = _uploaded_what_if() if kind == audit_runs.WHAT_IF else None
        run_id = audit_runs.request_run(
            current_desk(), audit_runs.RequestAuditRun(kind, what_if), current_user.username
        )
    except InvalidInput as exc:
        return _desk_page(exc.fields or {"kind": str(exc)}, 400, {"what_if_kind": request.form.get("what_if_kind")})
    return redirect(url_for("auditor_desk.run", run_id=run_id))


def _uploaded_what_if() -> audit_runs.WhatIfFile:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        data, name = b"", ""
    else:  # bounded: read one byte past the limit, enough to say the file is too large
        data, name = upload.stream.read(audit_runs.MAX_WHAT_IF_BYTES + 1), upload.filename
    return audit_runs.read_what_if(request.form.get("what_if_kind", ""), name, data)


@blueprint.route("/runs/<int:run_id>")
@requires_roles(*AUDITORS)
def run(run_id: int):
    shown = audit_runs.run_view(current_desk(), run_id)  # NotFound: the 404 page
    return render_template("audit_run.html", run=shown, findings=shown.findings or {}, moment=_moment)


@blueprint.route("/runs/<int:run_id>/status")
@requires_roles(*AUDITORS)
def run_status(run_id: int):
    """Where a run is, for the page's progress bar (static/audit_run.js)."""
    shown = audit_runs.run_view(current_desk(), run_id, with_findings=False)
    answer = jsonify(
        id=shown.id,
        status=shown.status,
        done=shown.done,
        total=shown.total,
        percent=shown.percent,
        progress=shown.progress,
        finished=shown.finished,
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


@blueprint.route("/runs/<int:run_id>/cancel", methods=["POST"])
@requires_roles(*AUDITORS)
def cancel(run_id: int):
    try:
        audit_runs.cancel_run(current_desk(), run_id, current_user.username)
    except NotAllowed as exc:
        flash(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", "info")
    else:
        flash(f"Audit run {run_id} is cancelled.", "success")
    return redirect(url_for("auditor_desk.run", run_id=run_id))


@blueprint.route("/replay")
@requires_roles(*AUDITORS)
def replay():
    """Replay one ticket now: its timeline, and each difference from what is stored."""
    reference, problem = _asked_reference()
    if problem:
        return _desk_page({"reference": problem}, 400, {"reference": reference})
    try:
        result = audit.replay(current_desk(), reference)
    except NotFound as exc:
        return _desk_page({"reference": _sentence(str(exc))}, 404, {"reference": reference})
    return render_template("audit_replay.html", result=result)


@blueprint.route("/export")
@requires_roles(*AUDITORS)
def export():
    """One ticket's history with its hashes, as ``supportdesk audit export`` writes it, as a download."""
    reference, problem = _asked_reference()
    if problem:
        return _desk_page({"export": problem}, 400, {"export": reference})
    try:
        record = audit.export(current_desk(), reference)
    except NotFound as exc:
        return _desk_page({"export": _sentence(str(exc))}, 404, {"export": reference})
    return Response(
        json.dumps(record, indent=2, ensure_ascii=False) + "\n",
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{record["reference"]}-history.json"'},
    )


def _asked_reference() -> tuple[str, str | None]:
    reference = (request.args.get("reference") or "").strip().upper()
    if not reference:
        return reference, "Enter a reference, like SUP-2026-000001"
    if len(reference) > MAX_REFERENCE:
        return reference[:MAX_REFERENCE], f"A reference is at most {MAX_REFERENCE} characters"
    return reference, None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _moment(text: str | None) -> str:
    """An ISO moment of a run's findings, in London time as the pages show moments."""
    return local_time(datetime.fromisoformat(text)) if text else "none"
