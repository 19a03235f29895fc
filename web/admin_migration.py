"""Process owners: move open tickets to another diagram version (a dry run first, with what changed
drawn on the diagrams, then the safe ones)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from supportdesk.engine import admin
from supportdesk.engine.tickets import migration

from . import current_desk, diagram_view
from .access import PROCESS_OWNER, requires_roles

blueprint = Blueprint("admin_migration", __name__)


@blueprint.route("/admin/migration", methods=["GET"])
@requires_roles(PROCESS_OWNER)
def page():
    """The versions with the tickets running on each, and the dry run for the chosen target
    (the active version unless ``?to=N``), with each version's difference from it drawn."""
    desk = current_desk()
    versions = migration.versions(desk)
    target = request.args.get("to", type=int)
    if target is None:
        target = next((v.number for v in versions if v.active), None)
    elif not any(v.number == target for v in versions):
        abort(404)
    report = migration.plan(desk, target) if target is not None else []
    changes = {}
    for result in report:
        if result.outcome in (migration.SAFE, migration.UNSAFE):
            changes.setdefault((result.process_id, result.from_version), result.changes)
    sources = sorted({r.from_version for r in report if r.from_version != target}, reverse=True)
    return render_template(
        "admin_migration.html",
        versions=versions,
        target=target,
        report=report,
        changes=changes,
        drawn={number: _drawn_changes(number, target) for number in sources} if target is not None else {},
        safe=[r for r in report if r.outcome == migration.SAFE],
        unsafe=[r for r in report if r.outcome == migration.UNSAFE],
        form=FlaskForm(),
    )


def _drawn_changes(number: int, target: int) -> list[diagram_view.Comparison]:
    """Version ``number``'s process files against the target's, where they differ."""
    desk = current_desk()
    return diagram_view.comparisons(
        migration.version_changes(desk, number, target),
        admin.version_files(desk, number),
        admin.version_files(desk, target),
        lambda name: diagram_view.stored(number, name, f"{name}, version {number} (the tickets' version)"),
        lambda name: diagram_view.stored(target, name, f"{name}, version {target} (the target)"),
    )


@blueprint.route("/admin/migration", methods=["POST"])
@requires_roles(PROCESS_OWNER)
def migrate():
    """Migrate the tickets that are safe to migrate now (each is checked again under its lock)."""
    form = FlaskForm()
    target = request.form.get("to", type=int)
    if not form.validate_on_submit() or target is None:
        abort(400)
    results = migration.migrate(current_desk(), target, actor=current_user.username)
    moved = sum(1 for r in results if r.outcome == migration.MIGRATED)
    left = sum(1 for r in results if r.outcome == migration.UNSAFE)
    message = f"Migrated {moved} ticket{'' if moved == 1 else 's'} to version {target}."
    if left:
        message += f" {left} left untouched: not safe to migrate (listed below)."
    flash(message, "success" if not left else "info")
    return redirect(url_for("admin_migration.page", to=target))
