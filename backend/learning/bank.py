"""The question bank: one validation for the form and the XLSX import, the import itself (all or
nothing, every bad row reported with its line number), the template, and members' error reports."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import ParseError

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from backend.accounts.service import Viewer
from backend.db import fetch_tuples, utcnow, write_transaction
from backend.i18n import gettext as _
from backend.learning.common import LETTERS, LearningError, require_department, require_member
from backend.learning.tables import Question, QuestionKind, QuestionReport

KIND_BY_NAME = {"单选": "single", "单选题": "single", "多选": "multi", "多选题": "multi", "判断": "judge",
                "判断题": "judge", "填空": "fill", "填空题": "fill"} | {k.value: k.value for k in QuestionKind}
DIFFICULTY_BY_NAME = {"易": 1, "简单": 1, "1": 1, "中": 2, "中等": 2, "2": 2, "难": 3, "困难": 3, "3": 3}
TRUE_WORDS = {"对", "正确", "是", "√", "✓", "T", "TRUE", "Y"}
FALSE_WORDS = {"错", "错误", "否", "×", "✗", "X", "F", "FALSE", "N"}
MAX_OPTIONS = 6
TEMPLATE_HEADERS = ["题型", "分类", "难度", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "选项F", "答案",
                    "解析", "出处"]
MAX_IMPORT_ROWS = 2000
MAX_IMPORT_BYTES = 5 * 1024 * 1024


@dataclass
class QuestionInput:
    kind: str = ""
    category: str = ""
    difficulty: str = ""
    stem: str = ""
    options: list[str] = field(default_factory=list)
    answer: str = ""
    explanation: str = ""
    source: str = ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def validate(inp: QuestionInput) -> tuple[dict[str, Any], dict[str, str]]:
    """Column values of a valid question, or field → reason for each problem (empty when valid)."""
    errors: dict[str, str] = {}
    kind = KIND_BY_NAME.get(inp.kind.strip(), "")
    if not kind:
        errors["kind"] = _("题型应为 单选 / 多选 / 判断 / 填空")
    category = inp.category.strip()
    if not category or len(category) > 40:
        errors["category"] = _("请填写分类（40 字以内）")
    difficulty = DIFFICULTY_BY_NAME.get(inp.difficulty.strip() or "易", 0)
    if not difficulty:
        errors["difficulty"] = _("难度应为 易 / 中 / 难")
    stem = inp.stem.strip()
    if not stem or len(stem) > 1000:
        errors["stem"] = _("请填写题干（1000 字以内）")
    if "\x00" in stem + inp.explanation + inp.source + category:
        errors["stem"] = _("内容含有无法保存的字符")
    options = [o.strip() for o in inp.options]
    while options and not options[-1]:
        options.pop()
    answer_raw = inp.answer.strip()
    answer: list[Any] = []
    if kind in ("single", "multi"):
        if len(options) < 2 or any(not o for o in options):
            errors["options"] = _("选择题至少需要两个选项，且选项之间不能留空")
        elif any(len(o) > 200 or "\x00" in o for o in options):
            errors["options"] = _("每个选项不超过 200 字")
        letters = [c for c in answer_raw.upper() if c not in " ,，、;；"]
        if not letters or any(c not in LETTERS[:len(options)] for c in letters) or len(set(letters)) != len(letters):
            errors["answer"] = _("答案应为选项字母，如 B 或 ACD，且在已填写的选项之内")
        else:
            answer = sorted(LETTERS.index(c) for c in letters)
            if kind == "single" and len(answer) != 1:
                errors["answer"] = _("单选题只能有一个答案")
            if kind == "multi" and len(answer) < 2:
                errors["answer"] = _("多选题至少有两个正确答案")
    elif kind == "judge":
        word = answer_raw.upper()
        if word in TRUE_WORDS:
            answer = [True]
        elif word in FALSE_WORDS:
            answer = [False]
        else:
            errors["answer"] = _("判断题答案应为“对”或“错”")
        options = []
    elif kind == "fill":
        answer = [a.strip() for a in answer_raw.split("|") if a.strip()]
        if not answer or any(len(a) > 200 for a in answer):
            errors["answer"] = _("请填写填空题答案，多个可接受答案用 | 分隔")
        options = []
    if len(inp.explanation) > 2000:
        errors["explanation"] = _("解析不超过 2000 字")
    if len(inp.source) > 200:
        errors["source"] = _("出处不超过 200 字")
    values = {"kind": kind, "category": category, "difficulty": difficulty, "stem": stem, "options": options,
              "answer": answer, "explanation": inp.explanation.strip(), "source": inp.source.strip()}
    return values, errors


async def create_question(viewer: Viewer, inp: QuestionInput) -> int:
    require_department(viewer)
    values, errors = validate(inp)
    if errors:
        field_name, message = next(iter(errors.items()))
        raise LearningError(message, field=field_name)
    if await Question.exists().where((Question.stem == values["stem"]) & (Question.active == True)):
        raise LearningError(_("题库中已有相同题干的题目"), field="stem")
    row = Question(**values, created_by=viewer.id)
    await row.save()
    return int(row.id)


async def set_active(viewer: Viewer, question_id: int, active: bool) -> None:
    require_department(viewer)
    done = await Question.update({Question.active: active}).where(Question.id == question_id).returning(Question.id)
    if not done:
        raise LearningError(_("题目不存在"), 404)


# ---------------------------------------------------------------- XLSX


def template_xlsx() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "题库"
    ws.append(TEMPLATE_HEADERS)
    ws.append(["单选", "党章党规", "易", "中国共产党的最高理想和最终目标是什么？", "实现共产主义", "全面建成小康社会",
               "实现现代化", "", "", "", "A", "党章总纲明确规定。", "《中国共产党章程》总纲"])
    ws.append(["多选", "党的建设", "中", "“四个意识”包括哪些？", "政治意识", "大局意识", "核心意识", "看齐意识", "", "",
               "ABCD", "", "党的十八届六中全会"])
    blank = [""] * 6
    ws.append(["判断", "党史", "易", "中国共产党第一次全国代表大会于1921年召开。", *blank, "对", "", ""])
    ws.append(["填空", "本地政策", "中", "迎泽区群众诉求超过____小时未受理亮黄灯。", *blank, "24|二十四", "",
               "迎泽区服务群众工作信息系统"])
    for col, width in zip("ABCDEFGHIJKLM", (8, 12, 6, 40, 16, 16, 16, 16, 12, 12, 8, 30, 24), strict=True):
        ws.column_dimensions[col].width = width
    notes = wb.create_sheet("填写说明")
    for line in ("题型：单选 / 多选 / 判断 / 填空", "难度：易 / 中 / 难",
                 "答案：选择题填选项字母（如 B、ACD）；判断题填 对 或 错；填空题填答案，多个可接受答案用 | 分隔",
                 "第一行为表头，请勿修改；示例行可删除或替换。",
                 "导入时逐行检查，任何一行有误则整份文件不导入，并列出出错的行号和原因。"):
        notes.append([line])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@dataclass
class ImportReport:
    created: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _rows(data: bytes) -> list[tuple[int, list[str]]]:
    if not data:
        raise LearningError(_("请选择要导入的 Excel 文件"), field="file")
    if len(data) > MAX_IMPORT_BYTES:
        raise LearningError(_("文件过大（最大 5 MB）"), 413, field="file")
    out: list[tuple[int, list[str]]] = []
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        ws = wb.worksheets[0]
        for line, row in enumerate(ws.iter_rows(values_only=True), start=1):
            if line > MAX_IMPORT_ROWS + 1:
                raise LearningError(_("一次最多导入 {n} 道题").format(n=MAX_IMPORT_ROWS), field="file")
            cells = [_text(v) for v in row][: len(TEMPLATE_HEADERS)]
            out.append((line, cells + [""] * (len(TEMPLATE_HEADERS) - len(cells))))
        wb.close()
    except LearningError:
        raise
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, IndexError,
            ParseError) as exc:  # whatever a damaged or foreign file makes the reader fail with: bad input
        raise LearningError(_("不是有效的 Excel（.xlsx）文件，请下载模板填写后再导入"), field="file") from exc
    return out


async def import_xlsx(viewer: Viewer, data: bytes) -> ImportReport:
    """Check every row; store all of them in one transaction, or none when any row is bad."""
    require_department(viewer)
    rows = _rows(data)
    if not rows or rows[0][1] != TEMPLATE_HEADERS:
        raise LearningError(_("文件不是题库导入模板：第 1 行应为表头 {h}").format(h="、".join(TEMPLATE_HEADERS)),
                            field="file")
    report = ImportReport()
    seen: dict[str, int] = {}
    valid: list[dict[str, Any]] = []
    for line, cells in rows[1:]:
        if not any(cells):
            continue  # blank lines between blocks of questions are harmless
        inp = QuestionInput(kind=cells[0], category=cells[1], difficulty=cells[2], stem=cells[3],
                            options=cells[4:10], answer=cells[10], explanation=cells[11], source=cells[12])
        values, errors = validate(inp)
        for message in errors.values():
            report.errors.append((line, message))
        if not errors:
            if values["stem"] in seen:
                report.errors.append((line, _("与第 {n} 行题干重复").format(n=seen[values["stem"]])))
            seen.setdefault(values["stem"], line)
            valid.append(values | {"_line": line})
    if valid:
        existing = {r["stem"] for r in await Question.select(Question.stem).where(
            Question.stem.is_in([v["stem"] for v in valid]) & (Question.active == True))}
        report.errors += [(v["_line"], _("题库中已有相同题干的题目")) for v in valid if v["stem"] in existing]
    if not valid and not report.errors:
        raise LearningError(_("文件中没有题目"), field="file")
    if report.errors:
        report.errors.sort()
        return report
    async with write_transaction():
        await Question.insert(*[Question(**{k: v for k, v in values.items() if k != "_line"}, created_by=viewer.id)
                                for values in valid])
    report.created = len(valid)
    return report


# ---------------------------------------------------------------- the bank's pages and error reports


async def list_questions(category: str = "", kind: str = "", active: bool = True, limit: int = 200) -> list[dict]:
    query = Question.select().where(Question.active == active)
    if category:
        query = query.where(Question.category == category)
    if kind in KIND_BY_NAME.values():
        query = query.where(Question.kind == kind)
    return await query.order_by(Question.id, ascending=False).limit(limit).output(load_json=True)


async def categories() -> list[dict]:
    """Each category with its count of active questions per difficulty."""
    rows = await fetch_tuples(
        "SELECT category, difficulty, count(*) FROM question WHERE active GROUP BY 1, 2 ORDER BY 1, 2")
    out: dict[str, dict] = {}
    for category, difficulty, n in rows:
        entry = out.setdefault(category, {"category": category, "total": 0, "by_difficulty": {}})
        entry["total"] += n
        entry["by_difficulty"][difficulty] = n
    return list(out.values())


async def report_question(viewer: Viewer, question_id: int, reason: str) -> None:
    require_member(viewer)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500 or "\x00" in reason:
        raise LearningError(_("请说明题目哪里有误（500 字以内）"), field="reason")
    if not await Question.exists().where(Question.id == question_id):
        raise LearningError(_("题目不存在"), 404)
    await QuestionReport(question=question_id, account=viewer.id, reason=reason).save()


async def open_reports() -> list[dict]:
    return await QuestionReport.select(
        QuestionReport.id, QuestionReport.reason, QuestionReport.created_at, QuestionReport.question.id,
        QuestionReport.question.stem, QuestionReport.question.kind, QuestionReport.question.active,
    ).where(QuestionReport.resolved == False).order_by(QuestionReport.id)


async def resolve_report(viewer: Viewer, report_id: int, deactivate: bool) -> None:
    require_department(viewer)
    async with write_transaction():
        rows = await QuestionReport.update({QuestionReport.resolved: True, QuestionReport.resolved_by: viewer.id,
                                            QuestionReport.resolved_at: utcnow()}).where(
            (QuestionReport.id == report_id) & (QuestionReport.resolved == False)).returning(QuestionReport.question)
        if not rows:
            raise LearningError(_("该报错已处理或不存在"), 404)
        if deactivate:
            await Question.update({Question.active: False}).where(Question.id == rows[0]["question"])
