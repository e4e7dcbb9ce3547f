"""GeoReport's two formats: JSON (arrays of objects) and XML (a root element, one child per item).

XML is built with the standard library's ElementTree: lists become a wrapper element with one child per item,
named by ITEM_TAGS (``attributes`` → ``attribute``), as the spec's examples show.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

ITEM_TAGS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "photos": "photo",
    "notes": "note",
    "errors": "error",
}
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


def w3c(value: datetime | None) -> str | None:
    """W3C datetime with its time zone, e.g. 2026-12-01T08:15:30+08:00."""
    return value.isoformat(timespec="seconds") if value is not None else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _fill(parent: ET.Element, data: dict[str, Any]) -> None:
    for key, value in data.items():
        el = ET.SubElement(parent, key)
        if isinstance(value, list):
            tag = ITEM_TAGS.get(key, "item")
            for item in value:
                child = ET.SubElement(el, tag)
                if isinstance(item, dict):
                    _fill(child, item)
                else:
                    child.text = _text(item)
        elif isinstance(value, dict):
            _fill(el, value)
        else:
            el.text = _text(value)


def to_xml(root: str, item_tag: str | None, data: list[dict[str, Any]] | dict[str, Any]) -> bytes:
    """``<root><item_tag>…</item_tag>…</root>`` for a list, or ``<root>…fields…</root>`` for one object."""
    top = ET.Element(root)
    if isinstance(data, list):
        assert item_tag is not None
        for item in data:
            _fill(ET.SubElement(top, item_tag), item)
    else:
        _fill(top, data)
    return ET.tostring(top, encoding="utf-8", xml_declaration=True)


def to_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def render(fmt: str, root: str, item_tag: str | None, data: Any) -> bytes:
    return to_json(data) if fmt == "json" else to_xml(root, item_tag, data)
