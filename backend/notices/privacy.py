"""Tables attached to notices: parsing XLSX/CSV uploads, masking columns marked as ID number, phone or
address, and the check that refuses to publish an unmasked 18-digit ID number or mobile number."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from backend.errors import DomainError
from backend.i18n import N_
from backend.notices.rows import ParsedTable

MAX_ROWS = 1000
MAX_COLS = 30
MAX_CELL = 200
MARKS = ("", "id", "phone", "address")
MARK_LABELS = {"": "不遮挡", "id": "身份证号", "phone": "电话", "address": "住址"}
# Header words that suggest a mark (staff can change it before publishing).
_GUESS = (("id", ("身份证", "证件号", "公民身份")), ("phone", ("电话", "手机", "联系方式")),
          ("address", ("住址", "地址", "居住地")))
# An 18-digit resident ID (last character may be X) and a mainland mobile number, not part of longer digits.
ID_RE = re.compile(r"(?<![0-9])[1-9]\d{16}[0-9Xx](?![0-9A-Za-z])")
MOBILE_RE = re.compile(r"(?<![0-9])1[3-9]\d{9}(?![0-9])")


class TableError(DomainError, ValueError):
    pass


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()[:MAX_CELL]


def _rows_of_csv(data: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise TableError("无法识别 CSV 文件的编码，请另存为 UTF-8")
    return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text))]


def _rows_of_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise TableError("无法读取 Excel 文件，请上传 .xlsx 格式") from None
    try:
        ws = wb.worksheets[0]
        rows = []
        for row in ws.iter_rows(values_only=True):
            rows.append([_cell(c) for c in row[:MAX_COLS]])
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        wb.close()


def parse_table(data: bytes, filename: str) -> ParsedTable:
    """An uploaded table → {"headers", "rows", "marks"} (the first non-empty row is the header)."""
    name = filename.lower()
    if name.endswith(".csv"):
        rows = _rows_of_csv(data)
    elif name.endswith(".xlsx") or data[:2] == b"PK":
        rows = _rows_of_xlsx(data)
    else:
        raise TableError("表格请上传 .xlsx 或 .csv 文件")
    rows = [r for r in rows if any(c for c in r)]
    if not rows:
        raise TableError("表格是空的")
    width = min(max(len(r) for r in rows), MAX_COLS)
    rows = [(r + [""] * width)[:width] for r in rows]
    headers, body = rows[0], rows[1:]
    if len(body) > MAX_ROWS:
        raise TableError(N_("表格不能超过 {max} 行"), max=MAX_ROWS)
    return {"headers": headers, "rows": body, "marks": [guess_mark(h) for h in headers]}


def guess_mark(header: str) -> str:
    for mark, words in _GUESS:
        if any(w in header for w in words):
            return mark
    return ""


def mask_value(value: str, mark: str) -> str:
    if not value or not mark:
        return value
    if mark == "id":
        return value[:6] + "*" * max(len(value) - 10, 4) + value[-4:] if len(value) > 10 else "*" * len(value)
    if mark == "phone":
        return value[:3] + "****" + value[-4:] if len(value) >= 7 else "*" * len(value)
    # An address keeps its place name up to the first number (building, unit, room are hidden).
    m = re.search(r"\d", value)
    return (value[:m.start()] if m else value[: max(len(value) // 2, 1)]) + "**"


def masked(table: ParsedTable) -> ParsedTable:
    """The table as published: every marked column masked."""
    marks = list(table.get("marks") or [])
    headers = list(table.get("headers") or [])
    marks = (marks + [""] * len(headers))[: len(headers)]
    rows = [[mask_value(c, marks[i] if i < len(marks) else "") for i, c in enumerate(r)]
            for r in table.get("rows") or []]
    return {"headers": headers, "rows": rows, "marks": marks}


def find_exposed(text: str) -> str | None:
    """'身份证号' or '手机号' when ``text`` holds one in the clear, else None."""
    if ID_RE.search(text):
        return "身份证号"
    if MOBILE_RE.search(text):
        return "手机号"
    return None


def exposure_in_table(table: ParsedTable) -> str | None:
    """The first unmasked ID or mobile number in the published form of a table, as a message, or None."""
    shown = masked(table)
    for j, h in enumerate(shown["headers"]):
        if (what := find_exposed(h)) is not None:
            return f"表头第 {j + 1} 列含有未遮挡的{what}"
    for i, row in enumerate(shown["rows"], 1):
        for j, cell in enumerate(row):
            if (what := find_exposed(cell)) is not None:
                head = shown["headers"][j] if j < len(shown["headers"]) else ""
                return f"第 {i} 行“{head or j + 1}”列含有未遮挡的{what}，请把该列标记为需遮挡后再发布"
    return None
