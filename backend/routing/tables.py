"""Categories and the category → handling matrix (default level and responsible departments)."""

from __future__ import annotations

from enum import Enum

from piccolo.columns import JSONB, Boolean, ForeignKey, Integer, Varchar
from piccolo.table import Table

from backend.organisation.tables import Unit


class Level(str, Enum):
    community = "community"  # grid / community
    street = "street"
    district = "district"


class Category(Table):
    code = Varchar(length=40, unique=True)
    name = Varchar(length=50)
    name_en = Varchar(length=80, default="")
    icon = Varchar(length=16, default="")
    default_level = Varchar(length=12, choices=Level, default=Level.community)
    sort = Integer(default=0)
    active = Boolean(default=True)


class CategoryDuty(Table):
    """A department or section responsible for a category by duty (职责)."""

    category = ForeignKey(Category, index=True)
    unit = ForeignKey(Unit)


class AttributeType(str, Enum):
    """The datatypes of GeoReport v2 service definitions (open311.org GeoReport_v2)."""

    string = "string"
    number = "number"
    datetime = "datetime"
    text = "text"
    singlevaluelist = "singlevaluelist"
    multivaluelist = "multivaluelist"


class CategoryAttribute(Table):
    """An extra question of a category (a GeoReport attribute), asked by the report form and by Open311 clients."""

    category = ForeignKey(Category, index=True)
    code = Varchar(length=40)  # unique within its category (index in the raw migration)
    datatype = Varchar(length=16, choices=AttributeType, default=AttributeType.string)
    required = Boolean(default=False)
    # false: only information shown to the person (no input); GeoReport's ``variable``
    variable = Boolean(default=True)
    description = Varchar(length=200)
    description_en = Varchar(length=200, default="")
    datatype_description = Varchar(length=200, default="")
    order = Integer(default=1)
    # [{"key": "...", "name": "...", "name_en": "..."}] for the list datatypes
    values = JSONB(default=[])
