"""The typed rows (each domain's rows.py) name the columns their tables have: a column added, renamed or
dropped shows here, not as a KeyError on a page."""

from __future__ import annotations

import pytest
from piccolo.table import Table

from backend.knowledge import rows as kb_rows
from backend.knowledge.tables import KbEntry, KbVersion
from backend.learning import rows as learning_rows
from backend.learning.tables import Attempt, Competition, Question
from backend.lights import rows as light_rows
from backend.lights.rules import RuleRow
from backend.lights.tables import Explanation, LightRule, PhoneCall
from backend.notices import rows as notice_rows
from backend.notices.tables import Attachment, Notice, NoticeDuty, NoticeQuestion, NoticeType, NoticeVersion
from backend.ratings.service import RatingRow
from backend.ratings.tables import Rating
from backend.requests import rows as request_rows
from backend.requests.tables import Assignment, Request
from backend.routing.attributes import AttributeDef
from backend.routing.tables import CategoryAttribute
from backend.wishes import rows as wish_rows
from backend.wishes.tables import Claim, Wish


def _columns(table: type[Table]) -> set[str]:
    return {c._meta.name for c in table._meta.columns}


# (typed row, its table, the keys it has beyond the table's columns, the columns it leaves out)
CASES = [
    (request_rows.RequestRow, Request, set(), set()),
    (request_rows.AssignmentRow, Assignment, set(), set()),
    (kb_rows.EntryRow, KbEntry, {"owner_name"}, {"title_tokens", "body_tokens"}),
    (kb_rows.VersionRow, KbVersion, set(), set()),
    (wish_rows.WishRow, Wish, {"community_path", "community_name"}, set()),
    (wish_rows.ClaimRow, Claim, set(), set()),
    (notice_rows.NoticeRow, Notice, set(), set()),
    (notice_rows.VersionRow, NoticeVersion, set(), set()),
    (notice_rows.AttachmentRow, Attachment, set(), set()),
    (notice_rows.NoticeTypeRow, NoticeType, set(), set()),
    (notice_rows.DutyRow, NoticeDuty, {"type_name", "unit_name", "street_name", "light", "due_day"}, set()),
    (light_rows.ExplanationRow, Explanation, {"unit_name", "code", "stage", "description", "red_lit_at",
                                              "submitted_by_name", "reviewed_by_name"}, set()),
    (light_rows.PhoneCallRow, PhoneCall, {"logged_by_name"}, set()),
    (RatingRow, Rating, set(), set()),
    (AttributeDef, CategoryAttribute, set(), set()),
    (RuleRow, LightRule, {"category_name"}, set()),
    (learning_rows.QuestionRow, Question, set(), set()),
    (learning_rows.CompetitionRow, Competition, set(), set()),
    (learning_rows.AttemptRow, Attempt, set(), set()),
    (notice_rows.QuestionRow, NoticeQuestion, {"code", "status", "answer", "answered_at", "due_at"}, set()),
]


@pytest.mark.parametrize(("row", "table", "extra", "left_out"), CASES, ids=[c[0].__name__ for c in CASES])
def test_a_typed_row_names_its_tables_columns(row, table, extra, left_out) -> None:
    assert set(row.__annotations__) == (_columns(table) - left_out) | extra
