"""The roles of the charter. A user task's lane names the role that does it."""

from __future__ import annotations

ROLES: dict[str, str] = {
    "first_line": "First line",
    "second_line": "Second line",
    "third_line": "Third line",
    "account_manager": "Account manager",
    "customer_services_manager": "Customer services manager",
    "development_team": "Development team",
    "auditor": "Auditor",
    # Changes the process: checks and deploys diagrams (which run code: scripts, conditions), migrates
    # tickets. A role of its own, so that who may do that is not whoever manages users or mail.
    "process_owner": "Process owner",
    "admin": "Admin",
}

# Lanes hold user tasks; the auditor, process owner and admin roles do no workflow tasks.
TASK_ROLES = (
    "first_line",
    "second_line",
    "third_line",
    "account_manager",
    "customer_services_manager",
    "development_team",
)


def role_for_lane(lane_name: str | None) -> str | None:
    """'First line' -> 'first_line'; None for a lane that is not a task role."""
    if not lane_name:
        return None
    slug = lane_name.strip().lower().replace(" ", "_").replace("-", "_")
    return slug if slug in TASK_ROLES else None
