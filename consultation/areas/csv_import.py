"""CSV imports: the area tree (admins), households of a community and resident verifications (workers).

Every row is checked before anything is written. A file with any bad row imports nothing; each bad
row is reported with its line number and the reason, so the person can fix the file and upload it
again. The writes then run in one savepoint, so even a race with another writer leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from consultation import audit, search_index
from consultation.accounts.models import User, VerificationMethod
from consultation.accounts.services import verify_resident
from consultation.areas.models import Area, AreaLevel, Household
from consultation.areas.queries import compounds_of
from consultation.areas.services import parse_floor_area
from consultation.audit import AuditEvent
from consultation.errors import Message, ValidationFailed, msg
from consultation.policy import Actor, require
from consultation.validation import check_length, normalise_phone

MAX_BYTES = 2 * 1024 * 1024
UTF8_BOM = b"\xef\xbb\xbf"
_CHUNK = 500  # keeps IN (...) lists well below every driver's parameter limit

AREA_COLUMNS = ("code", "name", "level", "parent_code")
HOUSEHOLD_COLUMNS = ("address", "compound", "floor_area")
VERIFICATION_COLUMNS = ("phone", "address")

# Downloadable examples; served with a BOM so that spreadsheet programs open them as UTF-8.
TEMPLATES = {
    "areas": "code,name,level,parent_code\n"
             "110105,朝阳区,district,110000\n"
             "110105001,建外街道,street,110105\n"
             "110105001001,永安里社区,community,110105001\n"
             "11010500100101,1号楼,compound,110105001001\n",
    "households": "address,compound,floor_area\n"
                  "1号院1单元101室,1号院,85.50\n"
                  "3号楼2单元302室,3号楼,62\n"
                  "平房东区7号,,\n",
    "verifications": "phone,address\n"
                     "13800001234,1号院1单元101室\n",
}

# Level names people type in a spreadsheet, besides the code names.
LEVEL_ALIASES = {
    "市": AreaLevel.city, "区": AreaLevel.district, "县": AreaLevel.district, "街道": AreaLevel.street,
    "乡镇": AreaLevel.street, "乡": AreaLevel.street, "镇": AreaLevel.street, "社区": AreaLevel.community,
    "村": AreaLevel.community, "院落": AreaLevel.compound, "楼栋": AreaLevel.compound,
}


@dataclass(frozen=True)
class RowError:
    line: int
    message: Message


class CsvRejected(ValidationFailed):
    """The file (``errors["file"]``) or some of its rows (``rows``) are bad; nothing was imported."""

    def __init__(self, *, file_error: Message | None = None, rows: list[RowError] | None = None) -> None:
        self.rows = rows or []
        if file_error is None:
            file_error = msg("Nothing was imported: {n} problems were found in the file. "
                             "Correct the lines listed below and upload the file again.", n=len(self.rows))
        super().__init__({"file": file_error})


@dataclass
class CsvRow:
    line: int
    values: dict[str, str]
    problem: Message | None = None

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass(frozen=True)
class ImportResult:
    event_id: int
    count: int


def read_csv(filename: str | None, data: bytes, columns: tuple[str, ...]) -> list[CsvRow]:
    """Decode and split an uploaded CSV; problems with the file as a whole raise ``CsvRejected``."""
    if filename is not None and not filename.lower().endswith(".csv"):
        raise CsvRejected(file_error=msg("Choose a file in CSV format (its name ends in .csv)."))
    if len(data) > MAX_BYTES:
        raise CsvRejected(file_error=msg("The file is larger than {mb} MB. Split it into smaller files.", mb=2))
    data = data.removeprefix(UTF8_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CsvRejected(file_error=msg(
            "The file is not UTF-8 encoded. Save it as UTF-8 and upload it again.")) from None
    if "\x00" in text:
        raise CsvRejected(file_error=msg("This is not a CSV text file."))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[CsvRow] = []
    line_end = 0
    try:
        for record in reader:
            line, line_end = line_end + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in record]
                if missing := [column for column in columns if column not in header]:
                    raise CsvRejected(file_error=msg(
                        "The first line must name the columns {columns}. Missing: {missing}.",
                        columns=",".join(columns), missing=", ".join(missing)))
                continue
            rows.append(_row(line, header, record, columns))
    except csv.Error:
        raise CsvRejected(file_error=msg("The file could not be read as CSV near line {line}. "
                                         "Check the quotation marks.", line=reader.line_num)) from None
    if header is None:
        raise CsvRejected(file_error=msg("The file is empty."))
    if not rows:
        raise CsvRejected(file_error=msg("The file has no data rows below the header line."))
    return rows


def _row(line: int, header: list[str], record: list[str], columns: tuple[str, ...]) -> CsvRow:
    values = {name: record[i].strip() if i < len(record) else "" for i, name in enumerate(header) if name in columns}
    problem = None
    if len(record) > len(header) and any(cell.strip() for cell in record[len(header):]):
        problem = msg("This line has more cells than the header. Put text that contains commas "
                      "in double quotation marks.")
    return CsvRow(line, values, problem)


def _required(row: CsvRow, column: str, maximum: int, errors: list[RowError]) -> str | None:
    value = row[column]
    if not value:
        errors.append(RowError(row.line, msg("The {column} field is empty.", column=column)))
        return None
    if check_length(value, maximum=maximum) is not None:
        errors.append(RowError(row.line, msg("The {column} field is longer than {n} characters.",
                                             column=column, n=maximum)))
        return None
    return value


def _chunks(values: Iterable[str]) -> list[list[str]]:
    items = sorted(set(values))
    return [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _reject_if(errors: list[RowError]) -> None:
    if errors:
        raise CsvRejected(rows=sorted(errors, key=lambda error: error.line))


# --- the area tree -------------------------------------------------------------------------------

@dataclass
class _PlannedArea:
    row: CsvRow
    code: str
    name: str
    level: AreaLevel
    parent_code: str


def parse_level(raw: str) -> AreaLevel | None:
    value = raw.strip()
    try:
        return AreaLevel(value.lower())
    except ValueError:
        return LEVEL_ALIASES.get(value)


async def import_areas(session: AsyncSession, actor: Actor, filename: str | None, data: bytes) -> ImportResult:
    """Add areas from a ``code,name,level,parent_code`` file; a parent may be in the file or already exist."""
    require(actor, "areas.manage")
    rows = read_csv(filename, data, AREA_COLUMNS)
    referenced = [row["code"] for row in rows] + [row["parent_code"] for row in rows]
    existing: dict[str, Area] = {}
    for chunk in _chunks(code for code in referenced if code):
        existing.update({a.code: a for a in (await session.scalars(select(Area).where(Area.code.in_(chunk)))).all()})
    errors: list[RowError] = []
    planned: dict[str, _PlannedArea] = {}
    first_line: dict[str, int] = {}
    for row in rows:
        if plan := _check_area_row(row, existing, first_line, errors):
            planned[plan.code] = plan
    await _check_parents(session, planned, existing, set(first_line), errors)
    _reject_if(errors)
    try:
        async with session.begin_nested():
            created = await _insert_areas(session, actor, list(planned.values()), existing)
            by_level = {level.value: sum(1 for a in created if a.level is level) for level in AreaLevel}
            event = await audit.record_event(session, "areas.imported", "area", None, actor_id=actor.user_id,
                                             ip=actor.ip, after={"file": filename, "count": len(created),
                                                                 "by_level": by_level,
                                                                 "ids": [area.id for area in created]})
    except IntegrityError as exc:  # another admin added the same code or name since the check
        raise _changed_meanwhile() from exc
    return ImportResult(event.id, len(created))


async def _insert_areas(session: AsyncSession, actor: Actor, plans: list[_PlannedArea],
                        existing: dict[str, Area]) -> list[Area]:
    """Insert checked rows level by level, a batch per level (row by row, a national tree takes minutes).

    Each area gets the same audit event and search reindexing as ``services.create_area``.
    """
    by_code = dict(existing)
    created: list[Area] = []
    for level in AreaLevel:
        batch = [(plan, Area(name=plan.name, level=level, code=plan.code,
                             parent_id=by_code[plan.parent_code].id if plan.parent_code else None))
                 for plan in sorted(plans, key=lambda p: p.row.line) if plan.level is level]
        if not batch:
            continue
        session.add_all(area for _, area in batch)
        await session.flush()
        for plan, area in batch:
            parent = by_code.get(plan.parent_code)
            area.path = f"{parent.path if parent else '/'}{area.id}/"
            by_code[plan.code] = area
            session.add(AuditEvent(actor_id=actor.user_id, action="area.created", object_type="area",
                                   object_id=str(area.id), ip=actor.ip,
                                   after={"name": area.name, "level": level.value, "code": area.code,
                                          "parent_id": area.parent_id}))
        await session.flush()
        created.extend(area for _, area in batch)
    search_index.search_changed(session, "area", [area.id for area in created])
    return created


def _check_area_row(row: CsvRow, existing: dict[str, Area], first_line: dict[str, int],
                    errors: list[RowError]) -> _PlannedArea | None:
    before = len(errors)
    if row.problem is not None:
        errors.append(RowError(row.line, row.problem))
    code = _required(row, "code", 32, errors)
    if code is not None:
        if code in first_line:
            errors.append(RowError(row.line, msg("The code {code} already appears on line {other}.",
                                                 code=code, other=first_line[code])))
        elif code in existing:
            errors.append(RowError(row.line, msg("The code {code} is already used by the area {name}.",
                                                 code=code, name=existing[code].name)))
        first_line.setdefault(code, row.line)
    name = _required(row, "name", 80, errors)
    level = None
    if not row["level"]:
        errors.append(RowError(row.line, msg("The {column} field is empty.", column="level")))
    elif (level := parse_level(row["level"])) is None:
        errors.append(RowError(row.line, msg("Unknown level {level}. Use one of: {levels}.", level=row["level"],
                                             levels=", ".join(level.value for level in AreaLevel))))
    parent_code = row["parent_code"]
    if level is AreaLevel.city and parent_code:
        errors.append(RowError(row.line, msg("A city has no parent area: leave parent_code empty.")))
    elif level is not None and level is not AreaLevel.city and not parent_code:
        errors.append(RowError(row.line, msg("The {column} field is empty.", column="parent_code")))
    if len(errors) > before or code is None or name is None or level is None:
        return None
    return _PlannedArea(row, code, name, level, parent_code)


async def _check_parents(session: AsyncSession, planned: dict[str, _PlannedArea], existing: dict[str, Area],
                         codes_in_file: set[str], errors: list[RowError]) -> None:
    """Each parent exists (in the file or the database) one level up, and sibling names are unique.

    A parent whose own line is bad is reported on that line only, not again on each child's.
    """
    parent_ids = [existing[p.parent_code].id for p in planned.values() if p.parent_code in existing]
    taken: set[tuple[int | None, str]] = set()
    for start in range(0, len(parent_ids), _CHUNK):
        chunk = parent_ids[start:start + _CHUNK]
        rows = await session.execute(select(Area.parent_id, Area.name).where(Area.parent_id.in_(chunk)))
        taken.update((parent_id, name) for parent_id, name in rows)
    siblings: dict[tuple[str, str], int] = {}
    for plan in sorted(planned.values(), key=lambda p: p.row.line):
        if plan.level is AreaLevel.city:
            continue
        line = plan.row.line
        parent_in_file = planned.get(plan.parent_code)
        parent_in_db = existing.get(plan.parent_code)
        if parent_in_file is not None:
            parent_level = parent_in_file.level
        elif parent_in_db is not None:
            parent_level = parent_in_db.level
        elif plan.parent_code in codes_in_file:
            continue
        else:
            errors.append(RowError(line, msg("Unknown parent code {code}: it is neither in the file nor an "
                                             "existing area.", code=plan.parent_code)))
            continue
        if parent_level.child is not plan.level:
            errors.append(RowError(line, msg("A {child_label} cannot be placed directly under a {parent_label}.",
                                             child_label=plan.level.label, parent_label=parent_level.label)))
        key = (plan.parent_code, plan.name)
        if key in siblings:
            errors.append(RowError(line, msg("The name {name} already appears under the same parent on line "
                                             "{other}.", name=plan.name, other=siblings[key])))
        elif parent_in_db is not None and (parent_in_db.id, plan.name) in taken:
            errors.append(RowError(line, msg("{parent} already has an area named {name}.",
                                             parent=parent_in_db.name, name=plan.name)))
        siblings.setdefault(key, line)


def _changed_meanwhile() -> CsvRejected:
    return CsvRejected(file_error=msg("The data changed while the file was being imported, so nothing was "
                                      "imported. Upload the file again."))


# --- households ----------------------------------------------------------------------------------

async def import_households(session: AsyncSession, actor: Actor, community: Area, filename: str | None,
                            data: bytes) -> ImportResult:
    """Add households to a community from an ``address,compound,floor_area`` file (in one batch insert)."""
    require(actor, "areas.manage_households", community)
    rows = read_csv(filename, data, HOUSEHOLD_COLUMNS)
    compounds = {compound.name: compound for compound in await compounds_of(session, community)}
    taken = set((await session.scalars(
        select(Household.address).where(Household.community_id == community.id))).all())
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    planned: list[tuple[str, Area | None, Decimal | None]] = []
    for row in rows:
        before = len(errors)
        if row.problem is not None:
            errors.append(RowError(row.line, row.problem))
        address = _required(row, "address", 200, errors)
        if address is not None:
            if address in first_line:
                errors.append(RowError(row.line, msg("The address {address} already appears on line {other}.",
                                                     address=address, other=first_line[address])))
            elif address in taken:
                errors.append(RowError(row.line, msg("{community} already has a household at {address}.",
                                                     community=community.name, address=address)))
            first_line.setdefault(address, row.line)
        compound = compounds.get(row["compound"]) if row["compound"] else None
        if row["compound"] and compound is None:
            errors.append(RowError(row.line, msg("{community} has no compound named {compound}.",
                                                 community=community.name, compound=row["compound"])))
        floor_area, problem = parse_floor_area(row["floor_area"])
        if problem is not None:
            errors.append(RowError(row.line, problem))
        if len(errors) == before and address is not None:
            planned.append((address, compound, floor_area))
    _reject_if(errors)
    try:
        async with session.begin_nested():
            households = [Household(community_id=community.id, compound_id=compound.id if compound else None,
                                    address=address, floor_area=floor_area)
                          for address, compound, floor_area in planned]
            session.add_all(households)
            await session.flush()
            session.add_all(AuditEvent(actor_id=actor.user_id, action="household.created", object_type="household",
                                       object_id=str(household.id), ip=actor.ip,
                                       after={"community_id": community.id, "address": household.address})
                            for household in households)
            ids = [household.id for household in households]
            event = await audit.record_event(session, "households.imported", "area", community.id,
                                       actor_id=actor.user_id, ip=actor.ip,
                                       after={"file": filename, "count": len(ids), "ids": ids})
    except IntegrityError as exc:  # somebody added one of these addresses since the check
        raise _changed_meanwhile() from exc
    return ImportResult(event.id, len(ids))


# --- resident verifications ----------------------------------------------------------------------

async def import_verifications(session: AsyncSession, actor: Actor, community: Area, filename: str | None,
                               data: bytes) -> ImportResult:
    """Verify residents of a community from a ``phone,address`` file, binding each to that household."""
    require(actor, "accounts.verify_resident", community)
    rows = read_csv(filename, data, VERIFICATION_COLUMNS)
    phones = {row.line: normalise_phone(row["phone"]) for row in rows}
    users: dict[str, User] = {}
    for chunk in _chunks(phone for phone in phones.values() if phone):
        found = await session.scalars(select(User).where(User.phone.in_(chunk), User.deleted_at.is_(None)))
        users.update({user.phone: user for user in found.all() if user.phone})
    homes: dict[str, Household] = {}
    for chunk in _chunks(row["address"] for row in rows if row["address"]):
        found_households = await session.scalars(
            select(Household).where(Household.community_id == community.id, Household.address.in_(chunk)))
        homes.update({household.address: household for household in found_households.all()})
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    planned: list[tuple[User, Household]] = []
    for row in rows:
        before = len(errors)
        if row.problem is not None:
            errors.append(RowError(row.line, row.problem))
        user = _verification_user(row, phones[row.line], users, community, actor, first_line, errors)
        household = None
        if _required(row, "address", 200, errors) is not None:
            household = homes.get(row["address"])
            if household is None:
                errors.append(RowError(row.line, msg("{community} has no household at {address}.",
                                                     community=community.name, address=row["address"])))
        if user is not None and household is not None and user.verified_at is not None \
                and user.household_id == household.id:
            errors.append(RowError(row.line, msg("This resident is already verified for this address.")))
        if len(errors) == before and user is not None and household is not None:
            planned.append((user, household))
    _reject_if(errors)
    note = f"CSV: {filename or ''}"[:200]
    async with session.begin_nested():
        for user, household in planned:
            await verify_resident(session, actor, user, household, VerificationMethod.csv_import, note)
        event = await audit.record_event(session, "verifications.imported", "area", community.id,
                                   actor_id=actor.user_id, ip=actor.ip,
                                   after={"file": filename, "count": len(planned),
                                          "user_ids": [user.id for user, _ in planned]})
    return ImportResult(event.id, len(planned))


def _verification_user(row: CsvRow, phone: str | None, users: dict[str, User], community: Area, actor: Actor,
                       first_line: dict[str, int], errors: list[RowError]) -> User | None:
    if not row["phone"]:
        errors.append(RowError(row.line, msg("The {column} field is empty.", column="phone")))
        return None
    if phone is None:
        errors.append(RowError(row.line, msg("{phone} is not an 11-digit mainland mobile number.",
                                             phone=row["phone"][:20])))
        return None
    if phone in first_line:
        errors.append(RowError(row.line, msg("The phone number {phone} already appears on line {other}.",
                                             phone=phone, other=first_line[phone])))
        return None
    first_line[phone] = row.line
    user = users.get(phone)
    # A resident of another community looks exactly like an unknown number.
    if user is None or user.home_area_id != community.id:
        errors.append(RowError(row.line, msg("No resident of {community} has registered with {phone}.",
                                             community=community.name, phone=phone)))
        return None
    if user.id == actor.user_id:
        errors.append(RowError(row.line, msg("You cannot verify yourself.")))
        return None
    return user
