"""What the desk itself puts in a process's data, beside what the diagrams declare (form fields,
decision outputs, message payloads, script assignments). The deploy gate needs it to tell a
variable no path can have set from one the desk sets; tests/test_deploy_gate.py checks it
against the code that does the setting (``CallDetails.decision_inputs``, the handlers).
"""

from __future__ import annotations

from supportdesk.engine.working_time.sla_policy import PRIORITIES

# Any value: the gate cannot list them.
ANY = None

# The data each process starts with (engine/tickets/commands.py: log_call, start_escalation,
# record_training_need). Values are what the desk accepts (engine/tickets/calls.py).
START_DATA: dict[str, dict[str, tuple | None]] = {
    "support_call": {
        "channel": ("phone", "email"),
        "licence_type": ("saas", "on_premise"),
        "request_kind": ("problem", "enhancement", "advice"),
        "symptom": (
            "cannot_load_data",
            "cannot_access",
            "software_crashes",
            "cannot_send_tests",
            "campaign_wont_send",
            "template_design_issue",
            "other",
        ),
        "hours_to_campaign": ANY,
        "preparing_campaign": (True, False),
    },
    "escalation": {"call_reference": ANY},
    "training": {"need": ("more_training", "new_user")},
}

# What a service task's handler writes into the data, by topic (handlers/).
HANDLER_DATA: dict[str, dict[str, tuple | None]] = {
    "assign_call_reference": {"call_reference": ANY},
    "set_priority": {"priority": PRIORITIES},
    "set_delayed": {"priority": PRIORITIES},
}
