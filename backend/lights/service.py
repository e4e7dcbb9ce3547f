"""The lights' public surface: what controllers, jobs and other domains call, by the module that holds it.

No logic here. rules.py (deadlines per category and stage), clocks.py (clock rows, the transition hook),
flips.py (the job, the sweep, the repair), alerts.py (who hears of a light), board.py (the light board),
explanations.py (red-light explanations and phone calls).
"""
from __future__ import annotations

from backend.db import aware, utcnow  # the controllers read the clock as the lights do
from backend.lights.alerts import (
    Flip,
    announce,
)
from backend.lights.board import (
    board,
    duration_label,
)
from backend.lights.clocks import (
    STOPPING_ACTIONS,
    earliest,
    lights_after_transition,
    next_due,
    start_clocks,
    stop_of,
    sync_stops,
)
from backend.lights.explanations import (
    account_name,
    calls_of,
    explanation,
    explanations_for,
    is_head_of,
    log_call,
    review_explanation,
    submit_explanation,
    unit_name,
)
from backend.lights.flips import (
    BATCH,
    FLIP_LOCK_KEY,
    REPAIR_WINDOW,
    FlipBusy,
    assignments_without_clocks,
    due_clock_ids,
    fire,
    light_history,
    repair_all,
    sweep,
)
from backend.lights.rules import (
    CLOCK_LABELS,
    COLOR_LABELS,
    COLORS,
    EXPLANATION_HOURS,
    MAX_TEXT,
    STAGE_LABELS,
    STAGES,
    LightError,
    delete_rule,
    list_rules,
    rule_for,
    rules_by_stage,
    save_rule,
    spec_of,
)

__all__ = [
    "BATCH",
    "CLOCK_LABELS",
    "COLORS",
    "COLOR_LABELS",
    "EXPLANATION_HOURS",
    "FLIP_LOCK_KEY",
    "MAX_TEXT",
    "REPAIR_WINDOW",
    "STAGES",
    "STAGE_LABELS",
    "STOPPING_ACTIONS",
    "Flip",
    "FlipBusy",
    "LightError",
    "account_name",
    "announce",
    "assignments_without_clocks",
    "aware",
    "board",
    "calls_of",
    "delete_rule",
    "due_clock_ids",
    "duration_label",
    "earliest",
    "explanation",
    "explanations_for",
    "fire",
    "is_head_of",
    "light_history",
    "lights_after_transition",
    "list_rules",
    "log_call",
    "next_due",
    "repair_all",
    "review_explanation",
    "rule_for",
    "rules_by_stage",
    "save_rule",
    "spec_of",
    "start_clocks",
    "stop_of",
    "submit_explanation",
    "sweep",
    "sync_stops",
    "unit_name",
    "utcnow",
]
