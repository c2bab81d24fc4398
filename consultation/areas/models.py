from __future__ import annotations

import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consultation.db import Base, TimestampMixin
from consultation.errors import N_


class AreaLevel(enum.StrEnum):
    city = "city"
    district = "district"
    street = "street"
    community = "community"
    compound = "compound"

    @property
    def label(self) -> str:
        """Message id of the level's name (translated by the web layer)."""
        return LEVEL_LABELS[self]

    @property
    def depth(self) -> int:
        return list(AreaLevel).index(self)

    @property
    def child(self) -> AreaLevel | None:
        levels = list(AreaLevel)
        return levels[self.depth + 1] if self.depth + 1 < len(levels) else None


LEVEL_LABELS = {
    AreaLevel.city: N_("city"),
    AreaLevel.district: N_("district"),
    AreaLevel.street: N_("street or township"),
    AreaLevel.community: N_("community or village"),
    AreaLevel.compound: N_("compound or building"),
}


class Area(TimestampMixin, Base):
    """A node of the administrative tree.

    ``path`` is the materialised path of ids (``/1/4/17/``) so that "this area and everything
    below it" is one indexed prefix match, which is how role grants cover descendants.
    """

    __tablename__ = "area"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("area.id", ondelete="RESTRICT"), index=True)
    level: Mapped[AreaLevel] = mapped_column(Enum(AreaLevel, native_enum=False, length=16))
    name: Mapped[str] = mapped_column(String(80))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    path: Mapped[str] = mapped_column(String(255), index=True, default="")

    parent: Mapped[Area | None] = relationship(remote_side=[id], lazy="raise")

    def covers(self, other_path: str) -> bool:
        return other_path.startswith(self.path)

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]


class Household(TimestampMixin, Base):
    """A household (户) registered in a community, optionally located in a compound/building."""

    __tablename__ = "household"
    __table_args__ = (
        UniqueConstraint("community_id", "address"),
        CheckConstraint("floor_area IS NULL OR floor_area >= 0", name="floor_area_positive"),
        Index("ix_household_compound", "compound_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="RESTRICT"), index=True)
    compound_id: Mapped[int | None] = mapped_column(ForeignKey("area.id", ondelete="SET NULL"))
    address: Mapped[str] = mapped_column(String(200))
    floor_area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))

    community: Mapped[Area] = relationship(foreign_keys=[community_id], lazy="raise")
    compound: Mapped[Area | None] = relationship(foreign_keys=[compound_id], lazy="raise")


class Unit(TimestampMixin, Base):
    """A responsible unit (承办单位): a government office, utility, property manager, committee."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="RESTRICT"), index=True)

    area: Mapped[Area] = relationship(lazy="raise")
