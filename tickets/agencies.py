"""The province's reference data: localities (a tree), agencies, categories and subcategories,
routing rules, public holidays and 115 facilities, loaded from a TOML file and validated."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from tickets.calendar import WorkingCalendar
from tickets.errors import ProvinceDataError
from tickets.model import Category

AGENCY_KINDS = frozenset(
    {"coordinator", "department", "district", "ward", "utility", "police", "board"}
)
LOCALITY_KINDS = frozenset({"province", "district", "ward"})
FACILITY_KINDS = frozenset({"hospital", "health_centre", "emergency_centre"})


@dataclass(frozen=True)
class Locality:
    code: str
    kind: str
    parent_code: str | None
    name_vi: str
    name_en: str
    lat: float | None = None
    long: float | None = None


@dataclass(frozen=True)
class Agency:
    code: str
    kind: str
    name_vi: str
    name_en: str
    locality_code: str | None
    active: bool = True


@dataclass(frozen=True)
class CategoryInfo:
    code: Category
    name_vi: str
    name_en: str
    deadline_days: int | None


@dataclass(frozen=True)
class Subcategory:
    code: str
    category: Category
    name_vi: str
    name_en: str
    deadline_days: int | None = None


@dataclass(frozen=True)
class RoutingRule:
    category: Category
    subcategory: str | None
    locality_code: str | None
    agency_code: str


@dataclass(frozen=True)
class Holiday:
    day: date
    name_vi: str
    name_en: str


@dataclass(frozen=True)
class Facility:
    code: str
    kind: str
    name_vi: str
    name_en: str
    locality_code: str | None
    lat: float
    long: float
    ambulances: int
    available: int
    active: bool = True


@dataclass(frozen=True)
class Province:
    code: str
    coordinator: str
    localities: tuple[Locality, ...]
    agencies: tuple[Agency, ...]
    categories: tuple[CategoryInfo, ...]
    subcategories: tuple[Subcategory, ...]
    rules: tuple[RoutingRule, ...]
    holidays: tuple[Holiday, ...]
    facilities: tuple[Facility, ...]

    def agency(self, code: str) -> Agency:
        for agency in self.agencies:
            if agency.code == code:
                return agency
        raise ProvinceDataError(f"unknown agency {code!r}")

    def locality(self, code: str) -> Locality:
        for locality in self.localities:
            if locality.code == code:
                return locality
        raise ProvinceDataError(f"unknown locality {code!r}")

    def deadline_days(self, category: Category, subcategory: str | None) -> int | None:
        """Working days an agency has to answer: the subcategory's, else the category's;
        ``None`` when neither sets one."""
        for sub in self.subcategories:
            if sub.code == subcategory and sub.deadline_days:
                return sub.deadline_days
        for info in self.categories:
            if info.code is category:
                return info.deadline_days
        return None

    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar.of(h.day for h in self.holidays)


DEFAULT_PROVINCE = "demo_province.toml"


def default_province_path() -> Path:
    return Path(str(resources.files("tickets").joinpath("data", DEFAULT_PROVINCE)))


def load_province(path: Path | None = None) -> Province:
    source = path or default_province_path()
    try:
        with source.open("rb") as handle:
            raw = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ProvinceDataError(f"{source}: {err}") from err
    try:
        province = _parse(raw)
    except (KeyError, TypeError, ValueError) as err:
        raise ProvinceDataError(f"{source}: {type(err).__name__}: {err}") from err
    validate(province)
    return province


def _parse(raw: dict[str, Any]) -> Province:
    localities = tuple(
        Locality(
            code=item["code"],
            kind=item["kind"],
            parent_code=item.get("parent"),
            name_vi=item["name_vi"],
            name_en=item["name_en"],
            lat=item.get("lat"),
            long=item.get("long"),
        )
        for item in raw["localities"]
    )
    agencies = []
    rules = []
    for item in raw["agencies"]:
        agencies.append(
            Agency(item["code"], item["kind"], item["name_vi"], item["name_en"], item["locality"])
        )
        for subcategory in item.get("handles", []):
            rules.append(
                RoutingRule(Category.FIELD_REPORT, subcategory, item["locality"], item["code"])
            )
    for item in raw.get("routing", []):
        rules.append(
            RoutingRule(
                Category(item["category"]),
                item.get("subcategory"),
                item.get("locality"),
                item["agency"],
            )
        )
    categories = tuple(
        CategoryInfo(Category(c["code"]), c["name_vi"], c["name_en"], c.get("deadline_days"))
        for c in raw["categories"]
    )
    subcategories = tuple(
        Subcategory(
            s["code"], Category(s["category"]), s["name_vi"], s["name_en"], s.get("deadline_days")
        )
        for s in raw["subcategories"]
    )
    holidays = tuple(
        Holiday(date.fromisoformat(day), group["name_vi"], group["name_en"])
        for group in raw["holidays"]
        for day in group["days"]
    )
    facilities = tuple(
        Facility(
            code=f["code"],
            kind=f["kind"],
            name_vi=f["name_vi"],
            name_en=f["name_en"],
            locality_code=f.get("locality"),
            lat=float(f["lat"]),
            long=float(f["long"]),
            ambulances=int(f["ambulances"]),
            available=int(f.get("available", f["ambulances"])),
        )
        for f in raw["facilities"]
    )
    return Province(
        code=raw["province"],
        coordinator=raw["coordinator"],
        localities=localities,
        agencies=tuple(agencies),
        categories=categories,
        subcategories=subcategories,
        rules=tuple(rules),
        holidays=holidays,
        facilities=facilities,
    )


def _unique(kind: str, codes: list[str]) -> set[str]:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise ProvinceDataError(f"duplicate {kind} code {code!r}")
        seen.add(code)
    return seen


def validate(province: Province) -> None:
    """Every reference points at something that exists; kinds are known; the tree is a tree."""
    localities = _unique("locality", [loc.code for loc in province.localities])
    agencies = _unique("agency", [a.code for a in province.agencies])
    subcategories = _unique("subcategory", [s.code for s in province.subcategories])
    _unique("facility", [f.code for f in province.facilities])
    if {c.code for c in province.categories} != set(Category):
        raise ProvinceDataError("categories must list exactly: " + ", ".join(Category))
    if province.code not in localities:
        raise ProvinceDataError(f"province locality {province.code!r} is not defined")
    if province.coordinator not in agencies:
        raise ProvinceDataError(f"coordinator {province.coordinator!r} is not an agency")
    for loc in province.localities:
        if loc.kind not in LOCALITY_KINDS:
            raise ProvinceDataError(f"locality {loc.code}: unknown kind {loc.kind!r}")
        if loc.parent_code is not None and loc.parent_code not in localities:
            raise ProvinceDataError(f"locality {loc.code}: unknown parent {loc.parent_code!r}")
    for agency in province.agencies:
        if agency.kind not in AGENCY_KINDS:
            raise ProvinceDataError(f"agency {agency.code}: unknown kind {agency.kind!r}")
        if agency.locality_code is not None and agency.locality_code not in localities:
            raise ProvinceDataError(f"agency {agency.code}: unknown locality")
    seen_rules: set[tuple[str, str | None, str | None]] = set()
    for rule in province.rules:
        key = (rule.category.value, rule.subcategory, rule.locality_code)
        if key in seen_rules:
            raise ProvinceDataError(f"two routing rules for {key}")
        seen_rules.add(key)
        if rule.agency_code not in agencies:
            raise ProvinceDataError(f"routing rule {key}: unknown agency {rule.agency_code!r}")
        if rule.subcategory is not None and rule.subcategory not in subcategories:
            raise ProvinceDataError(f"routing rule {key}: unknown subcategory")
        if rule.locality_code is not None and rule.locality_code not in localities:
            raise ProvinceDataError(f"routing rule {key}: unknown locality")
    for facility in province.facilities:
        if facility.kind not in FACILITY_KINDS:
            raise ProvinceDataError(f"facility {facility.code}: unknown kind {facility.kind!r}")
        if facility.locality_code is not None and facility.locality_code not in localities:
            raise ProvinceDataError(f"facility {facility.code}: unknown locality")
