"""Categories and the category → handling matrix (default level and responsible departments)."""

from __future__ import annotations

from enum import Enum

from piccolo.columns import Boolean, ForeignKey, Integer, Varchar
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
