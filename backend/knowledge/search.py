"""Search that understands Chinese: segmentation (rjieba) into PostgreSQL full-text search, an editable
synonym dictionary that widens the query, and pg_trgm similarity as the fallback for misspellings.

Why segmentation: the 'simple' text-search configuration splits on spaces and punctuation only, and
character n-grams miss two-character words (低保, 医保) or match them everywhere. So the text is cut into
words here, joined by spaces into ``title_tokens``/``body_tokens``, and PostgreSQL indexes those words
(generated ``tsv`` column, GIN). A query is cut the same way; each word becomes an OR-group of itself and
its synonyms (a multi-word synonym must match all its words), the groups are OR-ed and ranked with
``ts_rank``, so an entry matching more of the question ranks higher; ties go to the fresher entry.

Speed: ranking every entry that shares one common word (申请, 材料 …) with the question would read thousands
of rows, so candidates come from the rarer words of the question (how common each word is: ``kb_term``),
and only those are ranked on the full text.

Misspellings: a question word that no published entry contains is compared, with pg_trgm, to the vocabulary
of the base (``kb_term``, a few thousand words), and its closest words join its OR-group. Comparing a word
with a vocabulary stays fast whatever the size of the base; comparing it with every title would not. The
vocabulary holds each word in a form pg_trgm can split under any locale (``kb_fuzzy()``, see the migration).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rjieba

from backend.db import write_transaction
from backend.knowledge.tables import KbEntry, KbSynonym

# Words that say nothing about the topic of a question as residents type it.
STOPWORDS = frozenset(
    "的 了 吗 呢 啊 吧 呀 么 嘛 哦 喔 哈 我 我们 我家 你 您 你们 他 她 它 他们 咱 咱们 自己 要 想 想要 需要 得 "
    "怎么 怎么办 怎样 怎么样 如何 什么 啥 咋 咋办 咋整 哪 哪里 哪儿 哪些 哪个 去 在 是 有 没有 可以 能 能不能 "
    "可不可以 请问 问 问一下 一下 一个 这个 那个 这 那 些 个 和 与 及 或 或者 还 还是 就 都 也 太 很 非常 "
    "多少 多久 几 谁 为什么 为啥 给 把 被 让 对 从 到 了吗 呗 地 着 过 该 应该 会 不 没 又 吧 上 下 里 "
    "时候 现在 今年 已经 一直 总是 老是 特别 真的 有没有 是不是 行不行 好 大 小 多 少 请 帮 帮忙 谢谢 "
    "知道 告诉 办 弄 搞 找 看 说 想问".split()
)
# Words the general dictionary does not know, or cuts badly, in this domain.
DOMAIN_WORDS = (
    "低保 特困 特困人员 低保户 低收入 两项补贴 高龄津贴 高龄补贴 居住证 落户 户口 新生儿 医保 社保 养老保险 "
    "公租房 廉租房 老旧小区 养犬 养狗 犬只 遛狗 狗证 噪声 噪音 油烟 扰民 违建 违章建筑 物业 物业费 失业金 "
    "失业保险 就业登记 法律援助 退役军人 优抚 残疾证 护理补贴 生活补贴 入学 小学 幼儿园 临时救助 "
    "独生子女 房屋维修 电梯 加装电梯 垃圾分类 门诊 慢特病 大病保险 居民医保 灵活就业 公积金 身份证 "
    "居民身份证 准生证 生育登记 出生医学证明 营业执照 办证 补办 敬老卡 老年卡 助餐 老年餐桌 "
    "残疾人 困难群众 城乡低保 高温 停车 占道 广场舞"
).split()
MAX_QUERY = 200
MAX_CORRECTIONS = 3
COMMON_SHARE, COMMON_MIN = 0.02, 200  # a title word in more than 2% of titles (and 200) is common
MAX_WORDS = 12  # a pasted essay is cut to its first words: the query stays small
WORD = re.compile(r"[0-9a-z]+|[\u3400-\u9fff]+", re.I)
CJK = re.compile(r"[\u3400-\u9fff]")
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class _Segmenter:
    """One rjieba instance with the domain words and the synonym terms added."""

    def __init__(self) -> None:
        self.jieba = rjieba.Jieba()
        for word in DOMAIN_WORDS:
            self.add(word)

    def add(self, word: str) -> None:
        if word and not self.jieba.has_word(word):
            self.jieba.add_word(word, 20000, None)

    def words(self, text: str) -> list[str]:
        """Search-mode cut (long words also give their parts), lower-cased, without punctuation."""
        out: list[str] = []
        for chunk in WORD.findall(text.lower()):
            if CJK.match(chunk):
                out.extend(w for w in self.jieba.cut_for_search(chunk) if WORD.fullmatch(w))
            else:
                out.append(chunk)
        return out


_segmenter: _Segmenter | None = None


def segmenter() -> _Segmenter:
    global _segmenter
    if _segmenter is None:
        _segmenter = _Segmenter()
    return _segmenter


def tokens(text: str) -> list[str]:
    """The content words of ``text`` (order kept, duplicates dropped)."""
    seen: dict[str, None] = {}
    for w in segmenter().words(text):
        if w not in STOPWORDS:
            seen.setdefault(w, None)
    return list(seen)


def token_text(*parts: str) -> str:
    """What the tsvector indexes: the content words of ``parts`` joined by spaces."""
    return " ".join(w for part in parts for w in segmenter().words(part) if w not in STOPWORDS)


def theme(text: str) -> str:
    """The same question asked in other words: its content words, sorted (the gap list groups by it)."""
    return " ".join(sorted(tokens(text)))[:200]


# ---------------------------------------------------------------- synonyms (admin-edited, cached briefly)

SYNONYM_TTL = 30.0
_synonyms: tuple[float, dict[str, list[list[str]]]] | None = None


def parse_terms(raw: str) -> list[str]:
    """'低保，最低生活保障、低保金' → ['低保', '最低生活保障', '低保金'] (any comma, 、 ; or space)."""
    terms = [t.strip().lower() for t in re.split(r"[,，、;；\s]+", raw) if t.strip()]
    return list(dict.fromkeys(terms))


async def synonym_map() -> dict[str, list[list[str]]]:
    """word → the other terms of its groups, each cut into its content words."""
    global _synonyms
    now = time.monotonic()
    if _synonyms is not None and now - _synonyms[0] < SYNONYM_TTL:
        return _synonyms[1]
    rows = await KbSynonym.select(KbSynonym.terms)  # a small table, read whole
    mapping: dict[str, list[list[str]]] = {}
    seg = segmenter()
    for row in rows:
        terms = parse_terms(row["terms"])
        for term in terms:
            if len(term) <= 6:  # short terms are words of their own (低保, 医保); long ones stay phrases
                seg.add(term)
        for term in terms:
            for other in terms:
                if other != term:
                    mapping.setdefault(term, []).append(tokens(other) or [other])
    _synonyms = (now, mapping)
    return mapping


def forget_synonyms() -> None:
    global _synonyms
    _synonyms = None


# ---------------------------------------------------------------- the vocabulary


async def refresh_terms() -> None:
    """Rebuild ``kb_term`` from the published entries (after a publish or withdrawal, and by the demo loader).
    One at a time (advisory lock): two rebuilds would insert the same words twice."""
    async with write_transaction():
        await KbEntry.raw("SELECT pg_advisory_xact_lock(18018)")
        await KbEntry.raw("DELETE FROM kb_term")
        await KbEntry.raw(
            "INSERT INTO kb_term (word, ndoc, ndoc_title) SELECT a.word, a.ndoc, coalesce(t.ndoc, 0) "
            "FROM ts_stat('SELECT tsv FROM kb_entry WHERE status = ''published''') a "
            "LEFT JOIN ts_stat('SELECT tsv_title FROM kb_title') t USING (word)")
    forget_total()


TOTAL_TTL = 60.0
_total: tuple[float, int] | None = None


async def published_total() -> int:
    global _total
    now = time.monotonic()
    if _total is None or now - _total[0] > TOTAL_TTL:
        _total = (now, await KbEntry.count().where(KbEntry.status == "published"))
    return _total[1]


def forget_total() -> None:
    global _total
    _total = None


_VOCABULARY_SQL = """
SELECT NULL::text AS typed, word, ndoc, ndoc_title FROM kb_term WHERE word = ANY({}::text[])
UNION ALL
SELECT u.w, c.word, c.ndoc, c.ndoc_title
FROM (SELECT w, kb_fuzzy(w) AS fz FROM unnest({}::text[]) AS w
      WHERE NOT EXISTS (SELECT 1 FROM kb_term k WHERE k.word = w)) AS u
CROSS JOIN LATERAL (
  SELECT t.word, t.ndoc, t.ndoc_title FROM kb_term t WHERE t.fuzzy % u.fz
  ORDER BY similarity(t.fuzzy, u.fz) DESC, t.ndoc DESC LIMIT {}) c
"""


Counts = dict[str, tuple[int, int]]


async def vocabulary(words: list[str], correctable: list[str]) -> tuple[Counts, dict[str, list[str]]]:
    """One round trip: how many entries and titles hold each word; and for each correctable word that no entry
    holds, the closest known words (trigram similarity over the vocabulary), best first."""
    correctable = [w for w in correctable if len(w) >= 2]
    if not words and not correctable:
        return {}, {}
    rows = await KbEntry.raw(_VOCABULARY_SQL, words, correctable, MAX_CORRECTIONS)
    counts: Counts = {}
    fixes: dict[str, list[str]] = {}
    for r in rows:
        counts[r["word"]] = (r["ndoc"], r["ndoc_title"])
        if r["typed"] is not None:
            fixes.setdefault(r["typed"], []).append(r["word"])
    return counts, fixes


async def corrections(words: list[str]) -> dict[str, list[str]]:
    """The closest known words to each word no entry holds."""
    return (await vocabulary([], words))[1]


# ---------------------------------------------------------------- the question as a query


@dataclass(frozen=True)
class Group:
    """One word of the question: itself or any alternative (synonym, correction), as a tsquery."""

    word: str
    alts: tuple[tuple[str, ...], ...]  # each alternative is one word or a phrase of words (all must match)
    corrected: bool = False

    @property
    def tsquery(self) -> str:
        parts = [_lexeme(a[0]) if len(a) == 1 else "(" + " & ".join(_lexeme(w) for w in a) + ")" for a in self.alts]
        return "(" + " | ".join(dict.fromkeys(parts)) + ")"


def _lexeme(word: str) -> str:
    return "'" + word.replace("'", "''") + "'"


async def question_groups(words: list[str], synonyms: dict[str, list[list[str]]]) -> tuple[list[Group], dict]:
    """The question's words with their synonyms, unknown words with their likely corrections; and the counts.
    A word with synonyms is never corrected: the curated dictionary already says what it means."""
    groups = [Group(w, tuple(tuple(a) for a in [[w], *synonyms.get(w, [])])) for w in words]
    counts, fixes = await vocabulary(sorted({x for g in groups for a in g.alts for x in a}),
                                     [w for w in words if w not in synonyms])
    groups = [Group(g.word, g.alts + tuple((c,) for c in fixes[g.word]), True) if g.word in fixes else g
              for g in groups]
    return groups, counts


def selective(groups: list[Group], counts: dict[str, tuple[int, int]], total: int) -> list[Group]:
    """The groups rare enough in titles to pick candidates by (all of them when none is): a word found in
    thousands of titles (申请, 办理) would make the search rank thousands of rows; it still counts in the rank."""
    limit = max(COMMON_MIN, int(total * COMMON_SHARE))
    rare = [g for g in groups
            if sum(min(counts.get(x, (0, 0))[1] for x in a) for a in g.alts) <= limit]
    return rare or groups


# ---------------------------------------------------------------- the search


@dataclass(frozen=True)
class Hit:
    id: int
    title: str
    category: str
    snippet: str
    score: float
    matched: bool  # holds at least one word of the question as typed (or a synonym), not only a correction
    outdated: bool
    coverage: float = 0.0  # share of the question's words (or their synonyms/corrections) the entry contains


_WEIGHTS = "ARRAY[0.05, 0.2, 0.4, 1.0]::float4[]"  # D, C, B, A: the title and keywords (A) count 5× the body (C)
_SCOPE = "e.status = 'published' AND (q.cat = '' OR e.category = q.cat)"
# Candidates come cheaply from two indexes, then only those (at most 60) are ranked on the full text:
#  * by_title: the question's rarer words in the title or keywords (kb_title: narrow rows), best 30 by rank;
#  * by_all: entries holding every word of the question (or an alternative), anywhere: an AND is selective.
_SEARCH_SQL = f"""
WITH q AS (SELECT to_tsquery('simple', {{}}) AS tsq, to_tsquery('simple', {{}}) AS tsq_all,
                  to_tsquery('simple', {{}}) AS tsq_pick, to_tsquery('simple', {{}}) AS tsq_typed,
                  {{}}::text AS cat, {{}}::text[]::tsquery[] AS groups, {{}}::boolean AS coverage),
by_title AS (
  SELECT t.entry AS id FROM kb_title t, q WHERE t.tsv_title @@ q.tsq_pick AND (q.cat = '' OR t.category = q.cat)
  ORDER BY ts_rank(t.tsv_title, q.tsq) DESC, t.published_at DESC LIMIT 30),
by_all AS (SELECT e.id FROM kb_entry e, q WHERE {_SCOPE} AND e.tsv @@ q.tsq_all LIMIT 30),
cand AS (SELECT id FROM by_title UNION SELECT id FROM by_all)
SELECT e.id, e.title, e.category, left(e.answer, 160) AS snippet,
       ts_rank({_WEIGHTS}, e.tsv, q.tsq) AS rank, e.tsv @@ q.tsq_typed AS matched,
       CASE WHEN q.coverage THEN (SELECT count(*) FROM unnest(q.groups) g WHERE e.tsv @@ g) ELSE 0 END AS covered,
       (coalesce(e.expires_on < current_date, false) OR coalesce(e.review_by < current_date, false)) AS outdated
FROM cand JOIN kb_entry e ON e.id = cand.id, q
ORDER BY round(ts_rank({_WEIGHTS}, e.tsv, q.tsq)::numeric, 3) DESC, e.published_at DESC NULLS LAST, e.id DESC
LIMIT {{}}
"""


async def search(text: str, *, limit: int = 10, category: str = "", coverage: bool = False) -> list[Hit]:
    """Published entries for a question, best first. ``coverage``: also count, per hit, how many of the
    question's words it holds (the search log's "good answer" test; it costs a little, so only when asked)."""
    text = (text or "").replace("\x00", "")[:MAX_QUERY]
    synonyms = await synonym_map()  # first: its terms join the segmenter's dictionary
    words = tokens(text)[:MAX_WORDS]
    if not words:
        return []
    groups, counts = await question_groups(words, synonyms)
    typed = [Group(g.word, tuple(a for a in g.alts[: 1 + len(synonyms.get(g.word, []))])) for g in groups]
    tsq = " | ".join(g.tsquery for g in groups)
    pick = " | ".join(g.tsquery for g in selective(groups, counts, await published_total()))
    rows = await KbEntry.raw(_SEARCH_SQL, tsq, " & ".join(g.tsquery for g in groups), pick,
                             " | ".join(g.tsquery for g in typed), category[:30], [g.tsquery for g in groups],
                             coverage, max(1, min(limit, 50)))
    return [Hit(id=r["id"], title=r["title"], category=r["category"], snippet=r["snippet"], score=float(r["rank"]),
                matched=bool(r["matched"]), outdated=bool(r["outdated"]), coverage=r["covered"] / len(groups))
            for r in rows]


def entry_tokens(row: Mapping[str, Any]) -> tuple[str, str]:
    title = token_text(row["title"], row.get("keywords", ""))
    body = token_text(row.get("answer", ""), row.get("where_to_go", ""), row.get("what_to_bring", ""),
                      row.get("responsible", ""), row.get("source_title", ""), row.get("source_issuer", ""))
    return title, body
