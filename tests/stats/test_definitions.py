"""The definition shown next to each figure is the one of the module that computes it (issue 24):
the dashboard, the public statistics page and the assessment render the module's own constants, and no
template carries a definition of its own that could drift from the computation."""

from __future__ import annotations

import html
import re
from pathlib import Path

from backend.i18n import gettext
from backend.lights import assess
from backend.stats import kpis

TEMPLATES = Path(__file__).resolve().parents[2] / "frontend" / "templates"


def _text(r) -> str:
    assert r.status_code == 200, r.status_code
    return html.unescape(r.text)


async def test_the_dashboard_shows_the_module_s_definitions(client) -> None:
    await client.login_staff("admin")
    page = _text(await client.get("/dashboard"))
    for s in kpis.SHOWN:
        assert gettext(s.definition) in page, s.key
        assert hasattr(kpis.Kpis(), s.key) and kpis.metric_predicate(s.metric, kpis.utcnow()), s.key
    assert gettext(kpis.RANKING_DEFINITION) in page


async def test_the_public_page_shows_the_module_s_definitions(client) -> None:
    page = _text(await client.get("/public/stats"))
    for s in kpis.shown(kpis.PUBLIC_KEYS):
        assert gettext(s.label) in page and gettext(s.definition) in page, s.key


async def test_the_assessment_shows_the_module_s_definitions(client) -> None:
    await client.login_staff("zzb")
    page = _text(await client.get("/assess"))
    for text in (assess.DEFINITION, assess.SCORE_NOTE, assess.SMALL_SAMPLE_NOTE.format(n=assess.MIN_N)):
        assert gettext(text) in page or text in page, text


def test_no_template_writes_a_definition_of_its_own() -> None:
    """Definitions are variables in the templates: none is copied into one, and no definition element holds
    a sentence of its own."""
    module_texts = [s.definition for s in kpis.SHOWN] + [kpis.RANKING_DEFINITION, assess.DEFINITION,
                                                         assess.SCORE_NOTE]
    element = re.compile(r'class="[^"]*(?:kpi-def|definition)[^"]*"[^>]*>(.*?)</(?:p|td|dl|dd|section|div)>', re.S)
    literal = re.compile(r'_\("([^"]{20,})"\)')
    problems = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        problems += [f"{path.name}: copies “{t[:20]}…”" for t in module_texts if t in text]
        for body in element.findall(text):
            problems += [f"{path.name}: its own definition “{m[:20]}…”" for m in literal.findall(body)]
    assert not problems, "\n".join(problems)
