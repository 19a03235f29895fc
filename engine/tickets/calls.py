"""What a call is made of (C01, C02, C05-C10): the details the first-line advisor
takes, or an inbound email carries, with the charter's vocabularies."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from email_validator import EmailNotValidError, validate_email

from supportdesk.engine.errors import InvalidInput

CHANNELS = {"phone": "Telephone", "email": "Email"}
LICENCE_TYPES = {"saas": "SaaS", "on_premise": "On-premise"}
REQUEST_KINDS = {
    "problem": "A problem with the software",
    "enhancement": "A request for a product enhancement",  # C09
    "advice": "Advice on using the product",  # C10
}
# C06: what blocks a campaign and makes a call High.
SYMPTOMS = {
    "cannot_load_data": "Unable to load data",
    "cannot_access": "Unable to access the software",
    "software_crashes": "The software crashes",
    "cannot_send_tests": "Unable to send test emails",
    "campaign_wont_send": "The campaign won't send",
    "template_design_issue": "A design issue in a template we created",
    "other": "Something else",
}
# The lengths the ticket table's columns allow.
FIELD_LIMITS = {"contact_name": 200, "contact_email": 320, "account": 200, "summary": 500}


@dataclass(frozen=True)
class CallDetails:
    contact_name: str
    contact_email: str
    account: str
    summary: str
    channel: str = "phone"
    licence_type: str = "saas"
    request_kind: str = "problem"
    symptom: str = "other"
    campaign_at: datetime | None = None  # the next campaign, if one is scheduled
    preparing_campaign: bool = False  # C06: "or a future campaign is being prepared"

    def validated(self) -> CallDetails:
        """The details cleaned, or InvalidInput naming every bad field."""
        errors: dict[str, str] = {}
        cleaned = {name: getattr(self, name).strip() for name in FIELD_LIMITS}
        for name, limit in FIELD_LIMITS.items():
            label = name.replace("_", " ").capitalize()
            if not cleaned[name]:
                errors[name] = f"{label} is required"
            elif len(cleaned[name]) > limit:
                errors[name] = f"{label} allows at most {limit} characters"
        if "contact_email" not in errors:
            try:
                cleaned["contact_email"] = validate_email(
                    cleaned["contact_email"], check_deliverability=False
                ).normalized.lower()
            except EmailNotValidError as exc:
                errors["contact_email"] = str(exc)
        for name, allowed in (
            ("channel", CHANNELS),
            ("licence_type", LICENCE_TYPES),
            ("request_kind", REQUEST_KINDS),
            ("symptom", SYMPTOMS),
        ):
            if getattr(self, name) not in allowed:
                errors[name] = f"{name.replace('_', ' ').capitalize()} must be one of: {', '.join(allowed)}"
        if self.campaign_at is not None and self.campaign_at.tzinfo is None:
            errors["campaign_at"] = "the campaign moment needs a time zone"
        if errors:
            raise InvalidInput("the call cannot be logged", errors)
        return replace(self, **cleaned)

    def decision_inputs(self, now: datetime) -> dict:
        """What the priority table (priority.dmn) decides on, as workflow data."""
        hours = None
        if self.campaign_at is not None:
            hours = round((self.campaign_at - now).total_seconds() / 3600, 2)
        return {
            "channel": self.channel,
            "licence_type": self.licence_type,
            "request_kind": self.request_kind,
            "symptom": self.symptom,
            "hours_to_campaign": hours,
            "preparing_campaign": self.preparing_campaign,
        }

    def as_record(self) -> dict:
        """The details as the history keeps them."""
        record = {name: getattr(self, name) for name in self.__dataclass_fields__}
        record["campaign_at"] = self.campaign_at.isoformat() if self.campaign_at else None
        return record
