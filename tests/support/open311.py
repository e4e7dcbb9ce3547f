"""Helpers for the Open311 tests: API clients with keys, a point inside a community, the XSD."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from lxml import etree

from backend.open311 import clients as service
from backend.organisation.tables import Unit
from tests.support.factories import unique

XSD = Path(__file__).resolve().parents[1] / "open311" / "georeport_v2.xsd"  # beside the Open311 tests

# The spec's field lists (GeoReport v2), in JSON as in XML.
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
ATTRIBUTE_FIELDS = {"variable", "code", "datatype", "required", "datatype_description", "order", "description",
                    "values"}
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}


@cache
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def valid_xml(body: bytes) -> etree._Element:
    """Parse and validate against the spec's schema; fail with the schema's own message."""
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>") or body.startswith(
        b'<?xml version="1.0" encoding="utf-8"?>'), body[:60]
    doc = etree.fromstring(body)
    s = schema()
    assert s.validate(doc), s.error_log.filter_from_errors()
    return doc


async def new_client(*, name: str = "", services: list[str] | None = None, rate: int = 1000,
                     token: bool = False, acts_as: str = "") -> tuple[dict, str]:
    client, key, errors = await service.create_client(service.NewClient(
        name=name or unique("客户端"), allowed_services=services, rate_limit=rate, returns_token=token,
        acts_as_username=acts_as))
    assert client is not None, errors
    row = await service.authenticate(key, required=True)
    assert row is not None
    return row, key


async def point_in(unit_code: str) -> tuple[float, float]:
    """(lat, long) at the middle of a unit's boundary (the demo's boundaries are rectangles)."""
    unit = await Unit.select(Unit.boundary).where(Unit.code == unit_code).first()
    ring = json.loads(unit["boundary"])["coordinates"][0]
    lon = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
    lat = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
    return lat, lon
