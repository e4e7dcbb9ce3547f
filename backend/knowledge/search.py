"""Search that understands Chinese: segmentation (rjieba) into PostgreSQL full-text search, an editable
synonym dictionary that widens the query, and pg_trgm similarity as the fallback for misspellings.

Why segmentation: the 'simple' text-search configuration splits on spaces and punctuation only, and
character n-grams miss two-character words (低保, 医保) or match them everywhere. So the text is cut into
words here, joined by spaces into ``title_tokens``/``body_tokens``, and PostgreSQL indexes those words
(generated ``tsv`` column, GIN). A query is cut the same way; each word becomes an OR-group of itself and
its synonyms (a multi-word synonym must match all its words), the groups are OR-ed and ranked with
``ts_rank``, so an entry matching more of the question ranks higher; ties go to the fresher entry.

Why the odd ``fuzzy`` column: pg_trgm only splits "word" characters into trigrams, and under the C locale
(which our clusters use) Chinese characters are not word characters, so ``similarity('低保', '低包')`` is 0.
Each CJK character is therefore written as a short ASCII word (its code point in base 36): the trigram
similarity of two such strings is then the share of characters they have in common, which is what a
one-character typo leaves intact.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import rjieba

from backend.db import engine
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
FUZZY_THRESHOLD = 0.45
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


def fuzzy_text(text: str) -> str:
    """``text`` as pg_trgm can compare it under any locale: each CJK character → a three-letter word."""
    out: list[str] = []
    for ch in text.lower():
        if CJK.match(ch):
            n = ord(ch)
            out.append(_B36[n % 36] + _B36[n // 36 % 36] + _B36[n // 1296 % 36])
        elif ch.isascii() and ch.isalnum():
            if out and out[-1].startswith("_"):
                out[-1] += ch
            else:
                out.append("_" + ch)
    return " ".join(w.lstrip("_") for w in out)


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


def _lexeme(word: str) -> str:
    return "'" + word.replace("'", "''") + "'"


def query_groups(words: list[str], synonyms: dict[str, list[list[str]]]) -> list[str]:
    """One tsquery per word: the word itself or any of its synonyms (a phrase must match all its words).
    The search ORs the groups, so an entry matching more of the question ranks higher."""
    groups = []
    for w in words:
        alts = [_lexeme(w)]
        for phrase in synonyms.get(w, []):
            alts.append(_lexeme(phrase[0]) if len(phrase) == 1
                        else "(" + " & ".join(_lexeme(p) for p in phrase) + ")")
        groups.append("(" + " | ".join(dict.fromkeys(alts)) + ")")
    return groups


# ---------------------------------------------------------------- the search


@dataclass(frozen=True)
class Hit:
    id: int
    title: str
    category: str
    snippet: str
    score: float
    matched: bool  # found by words (full-text), not only by similar characters
    outdated: bool
    coverage: float = 0.0  # share of the question's words (or their synonyms) the entry contains


# Weights D, C, B, A: the title and keywords (A) count five times the body (C).
_RANK = "coalesce(ts_rank(ARRAY[0.05, 0.2, 0.4, 1.0]::float4[], e.tsv, q.tsq), 0)"
_SIM = "CASE WHEN q.fz = '' THEN 0 ELSE word_similarity(q.fz, e.fuzzy) END"
_SEARCH_SQL = f"""
WITH q AS (SELECT CASE WHEN {{}} = '' THEN NULL ELSE to_tsquery('simple', {{}}) END AS tsq, {{}}::text AS fz),
hits AS (
  SELECT e.id, e.title, e.category, left(e.answer, 160) AS snippet, e.tsv, {_RANK} AS rank, {_SIM} AS sim,
         coalesce(e.tsv @@ q.tsq, false) AS matched,
         (coalesce(e.expires_on < current_date, false) OR coalesce(e.review_by < current_date, false)) AS outdated,
         row_number() OVER (ORDER BY round(({_RANK} + 0.3 * {_SIM})::numeric, 3) DESC,
                                     e.published_at DESC NULLS LAST, e.id DESC) AS n
  FROM kb_entry e, q
  WHERE e.status = 'published' AND ((q.tsq IS NOT NULL AND e.tsv @@ q.tsq) OR (q.fz <> '' AND q.fz <% e.fuzzy))
    AND ({{}} = '' OR e.category = {{}})
  ORDER BY n
  LIMIT {{}}
)
SELECT id, title, category, snippet, rank, sim, matched, outdated,
       (SELECT count(*) FROM unnest({{}}::text[]) g WHERE hits.tsv @@ to_tsquery('simple', g)) AS covered
FROM hits ORDER BY n
"""


async def search(text: str, *, limit: int = 10, category: str = "") -> list[Hit]:
    text = (text or "").replace("\x00", "")[:MAX_QUERY]
    synonyms = await synonym_map()  # first: its terms join the segmenter's dictionary
    words = tokens(text)[:MAX_WORDS]
    groups = query_groups(words, synonyms)
    tsq = " | ".join(groups)
    fuzzy = fuzzy_text("".join(words)) if words else ""
    if not tsq and not fuzzy:
        return []
    category = category[:30]
    async with engine().transaction():
        # A one-character slip in a three-character word leaves ~0.53 of its trigrams (the default bar is 0.6).
        await KbEntry.raw("SELECT set_config('pg_trgm.word_similarity_threshold', {}, true)", str(FUZZY_THRESHOLD))
        rows = await KbEntry.raw(_SEARCH_SQL, tsq, tsq, fuzzy, category, category, max(1, min(limit, 50)), groups)
    return [Hit(id=r["id"], title=r["title"], category=r["category"], snippet=r["snippet"],
                score=float(r["rank"]) + 0.3 * float(r["sim"]), matched=bool(r["matched"]),
                outdated=bool(r["outdated"]), coverage=r["covered"] / len(groups) if groups else 0.0) for r in rows]


def entry_tokens(row: dict[str, Any]) -> tuple[str, str, str]:
    title = token_text(row["title"], row.get("keywords", ""))
    body = token_text(row.get("answer", ""), row.get("where_to_go", ""), row.get("what_to_bring", ""),
                      row.get("responsible", ""), row.get("source_title", ""), row.get("source_issuer", ""))
    return title, body, fuzzy_text(row["title"])
