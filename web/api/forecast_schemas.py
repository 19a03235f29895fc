"""The forecast's API schemas (issue 22): ``GET /reports/forecast``, as ``supportdesk forecast --format json``."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from supportdesk.engine.oversight.reports import PERIODS
from supportdesk.engine.working_time.sla_policy import METRICS

from .schemas import Moment, Text, _enum

SHARE = {"description": "A share, 0 to 1; null when no clock of the line is likely to be decided this period"}


class ForecastQuery(ma.Schema):
    period = Text(max_length=10, metadata=_enum(PERIODS, description="The period under way (default: month)"))
    fresh = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Make a new forecast now (runs on the real diagrams for up to 20 seconds; the "
            "forecast's notes say when fewer runs than usual were made) rather than answer with the newest "
            "one made today"
        },
    )


class ForecastLine(ma.Schema):
    metric = fields.String(required=True, metadata=_enum(METRICS))
    line = fields.String(required=True, metadata={"description": "The priority, or All"})
    label = fields.String(required=True)
    goal = fields.Float(required=True)
    median = fields.Float(allow_none=True, required=True, metadata=SHARE)
    low = fields.Float(allow_none=True, required=True, metadata={**SHARE, "description": "The 80 % interval's low end"})
    high = fields.Float(allow_none=True, required=True, metadata={**SHARE, "description": "Its high end"})
    chance_of_miss = fields.Float(allow_none=True, required=True, metadata={"description": "P(attainment < goal)"})
    chance_of_miss_above_threshold = fields.Boolean(required=True)
    likely_breaches = fields.Float(required=True, metadata={"description": "Calls likely to breach from now"})
    open_breaches = fields.Float(required=True, metadata={"description": "... of the calls open now"})
    new_breaches = fields.Float(required=True, metadata={"description": "... of calls still to come"})
    breaches_by_tier = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    met_so_far = fields.Integer(required=True)
    breached_so_far = fields.Integer(required=True)
    lever = fields.Dict(
        allow_none=True,
        required=True,
        metadata={
            "description": "The smallest lever tried that brings the median back to the goal (kind, "
            "amount, tier, text); null when the median meets the goal or no lever tried does"
        },
    )


class Forecast(ma.Schema):
    """This period's SLA attainment forecast, stored with its inputs."""

    id = fields.Integer(allow_none=True, required=True)
    made_at = Moment(required=True)
    made_by = fields.String(required=True)
    period = fields.String(required=True, metadata=_enum(PERIODS))
    first_day = fields.Date(required=True)
    last_day = fields.Date(required=True)
    runs = fields.Integer(required=True)
    seed = fields.Integer(required=True)
    method = fields.String(required=True)
    threshold = fields.Float(
        required=True,
        metadata={"description": "The chance of a miss above which the manager is warned (policy forecast.warn_above)"},
    )
    short_history = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "Why the history is too short to trust (the interval is wider then); empty when it is not"
        },
    )
    warned = fields.List(fields.String(), required=True, metadata={"description": "Goals this forecast warned of"})
    notes = fields.List(
        fields.String(),
        load_default=list,
        metadata={
            "description": "What the runs could not do as asked: fewer runs in the time allowed, open "
            "calls played by the model because the diagrams could not carry them"
        },
    )
    lines = fields.List(fields.Nested(ForecastLine), required=True)
