"""A notice's files (PDF, images, tables, board photos): checked and stored in media's storage before the
transaction, their rows written inside it, discarded if it fails.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from backend.i18n import N_
from backend.media.processing import PhotoError, process_image
from backend.media.storage import get_storage
from backend.notices.privacy import TableError, parse_table
from backend.notices.rows import AttachmentRow, ParsedTable
from backend.notices.rules import MAX_FILE, MAX_FILES, NoticeError
from backend.notices.tables import (
    Attachment,
    AttachmentKind,
)


@dataclass
class Upload:
    data: bytes
    filename: str
    board: bool = False  # the photo of the physical notice board


@dataclass
class Stored:
    kind: str
    filename: str
    storage_key: str = ""
    thumb_key: str = ""
    size: int = 0
    table: ParsedTable = field(default_factory=ParsedTable)  # empty but for tables


def _store_sync(up: Upload) -> Stored:
    """Check one upload and write its file(s). Runs in a thread (Pillow, openpyxl)."""
    name = (up.filename or "").strip()[:200]
    lower = name.lower()
    if len(up.data) > MAX_FILE:
        raise NoticeError(N_("附件“{name}”超过 10 MB"), "files", 413, name=name)
    if not up.data:
        raise NoticeError(N_("附件“{name}”是空文件"), "files", name=name)
    token = secrets.token_hex(12)
    base = f"notices/{token[:2]}/{token}"
    if up.data[:5] == b"%PDF-" and not up.board:
        get_storage().put(base + ".pdf", up.data)
        return Stored(AttachmentKind.pdf.value, name, base + ".pdf", size=len(up.data))
    if lower.endswith((".xlsx", ".csv")) and not up.board:
        try:
            table = parse_table(up.data, name)
        except TableError as exc:
            raise NoticeError(N_("附件“{name}”：{reason}"), "files", name=name, reason=exc.message) from None
        return Stored(AttachmentKind.table.value, name, size=len(up.data), table=table)
    try:
        done = process_image(up.data, name)  # metadata stripped, re-encoded
    except PhotoError as exc:
        raise NoticeError(N_("附件“{name}”：{reason}（可上传 PDF、图片、XLSX 或 CSV）"), "files",
                          name=name, reason=exc.message) from None
    get_storage().put(base + ".jpg", done.display)
    get_storage().put(base + "_t.jpg", done.thumb)
    kind = AttachmentKind.board.value if up.board else AttachmentKind.image.value
    return Stored(kind, name, base + ".jpg", base + "_t.jpg", len(done.display))


async def store_uploads(uploads: list[Upload]) -> list[Stored]:
    if len(uploads) > MAX_FILES:
        raise NoticeError(N_("一次最多上传 {max} 个附件"), "files", max=MAX_FILES)
    out: list[Stored] = []
    try:
        for up in uploads:
            out.append(await asyncio.to_thread(_store_sync, up))
    except Exception:
        await discard(out)
        raise
    return out


async def discard(stored: list[Stored]) -> None:
    def run() -> None:
        for s in stored:
            for key in (s.storage_key, s.thumb_key):
                if key:
                    get_storage().delete(key)

    await asyncio.to_thread(run)


async def attach_files(version_id: int, stored: list[Stored], start: int = 0) -> None:
    if stored:
        await Attachment.insert(*[
            Attachment(version=version_id, kind=s.kind, filename=s.filename, storage_key=s.storage_key,
                       thumb_key=s.thumb_key, size=s.size, table=s.table or {}, sort=start + i)
            for i, s in enumerate(stored)])




async def attachments_of(version_id: int) -> list[AttachmentRow]:
    return await Attachment.select().where(Attachment.version == version_id).order_by(Attachment.sort).order_by(
        Attachment.id).output(load_json=True)
