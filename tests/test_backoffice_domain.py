"""The back office's domain rules without I/O: working-day deadlines, routing over the demo
province, the lifecycle table, nearest-facility dispatch, duplicate scoring, province checks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from tickets.agencies import Province, RoutingRule, load_province, validate
from tickets.calendar import WorkingCalendar
from tickets.codes import HOTLINE_TZ
from tickets.dispatch import (
    MAX_ATTEMPTS,
    Attempt,
    DispatchResult,
    Point,
    distance_km,
    next_facility,
    rank_facilities,
)
from tickets.duplicates import Candidate, similarity, suggest
from tickets.errors import InvalidTransition, ProvinceDataError
from tickets.lifecycle import Action, next_status
from tickets.model import Category, Role, TicketStatus
from tickets.routing import Router

PROVINCE = load_province()


def router(province: Province = PROVINCE) -> Router:
    return Router.of(province)


def test_given_tet_2020_when_a_three_day_deadline_starts_the_day_before_then_holidays_and_weekends_are_skipped() -> (
    None
):
    calendar = WorkingCalendar.of(h.day for h in PROVINCE.holidays)
    received = datetime(2020, 1, 22, 10, 0, tzinfo=HOTLINE_TZ)  # Wednesday before Tết

    due = calendar.deadline(received, 3)

    # 23, 24, 27, 28, 29 Jan are Tết; 25/26 a weekend ⇒ 30, 31 Jan, 3 Feb
    assert due == datetime(2020, 2, 3, 17, 0, tzinfo=HOTLINE_TZ)


def test_given_a_friday_evening_in_utc_when_the_deadline_is_computed_then_the_local_saturday_counts_as_the_start() -> (
    None
):
    calendar = WorkingCalendar.of([])
    received = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)  # Saturday 01:30 in Vietnam

    assert calendar.deadline(received, 1) == datetime(2026, 11, 30, 17, 0, tzinfo=HOTLINE_TZ)
    assert calendar.working_days_between(date(2026, 11, 27), date(2026, 12, 4)) == 5


def test_given_a_holiday_added_when_a_deadline_crosses_it_then_it_moves_one_day() -> None:
    plain = WorkingCalendar.of([])
    with_holiday = WorkingCalendar.of([date(2026, 12, 1)])
    received = datetime(2026, 11, 30, 9, 0, tzinfo=HOTLINE_TZ)

    assert plain.deadline(received, 2).date() == date(2026, 12, 2)
    assert with_holiday.deadline(received, 2).date() == date(2026, 12, 3)


@pytest.mark.parametrize(
    ("subcategory", "locality", "agency", "fallback"),
    [
        ("noise", "DN-HC-HC1", "UBND-P-HC1", False),  # the ward itself
        ("noise", "DN-ST", "UBND-Q-ST", False),  # a district without ward authorities here
        ("public_order", "DN-TK-AK", "CA-Q-TK", False),  # ward → its district's police
        ("public_order", "DN", "CA-TP", False),
        ("roads", "DN-HC-HC1", "SO-GTVT", False),  # province-wide rule through the ancestors
        ("flooding", "DN-HC-BH", "CT-THOATNUOC", False),
        ("flooding", "DN-HV", "SO-NNPTNT", False),  # rural override
        ("trees", "DN-ST", "BQL-SONTRA", False),
        ("trees", "DN-LC", "CT-CAYXANH", False),
        ("noise", "DN", "VP-UBND", True),  # nobody handles noise province-wide ⇒ coordinator
        ("noise", None, "VP-UBND", True),
        ("noise", "NOWHERE", "VP-UBND", True),
    ],
)
def test_given_the_demo_province_when_a_field_report_is_routed_then_the_most_specific_rule_wins(
    subcategory: str, locality: str | None, agency: str, fallback: bool
) -> None:
    decision = router().route(Category.FIELD_REPORT, subcategory, locality)

    assert (decision.agency_code, decision.fallback) == (agency, fallback)


def test_given_a_category_wide_rule_when_a_subcategory_rule_exists_at_the_same_level_then_the_subcategory_rule_wins() -> (
    None
):
    rules = [
        RoutingRule(Category.FIELD_REPORT, None, "DN-HC", "UBND-Q-HC"),
        RoutingRule(Category.FIELD_REPORT, "roads", "DN-HC", "SO-GTVT"),
    ]
    custom = Router(rules, {"DN-HC": "DN", "DN": None}, "VP-UBND")

    assert custom.route(Category.FIELD_REPORT, "roads", "DN-HC").agency_code == "SO-GTVT"
    assert custom.route(Category.FIELD_REPORT, "noise", "DN-HC").agency_code == "UBND-Q-HC"
    assert custom.route(Category.ADMIN_PROCEDURE, None, "DN-HC").agency_code == "VP-UBND"


def test_given_the_demo_province_then_it_has_47_agencies_of_every_kind_with_vietnamese_and_english_names() -> (
    None
):
    kinds = {a.kind for a in PROVINCE.agencies}

    assert len(PROVINCE.agencies) == 47
    assert {"department", "district", "ward", "utility", "police", "coordinator"} <= kinds
    names = {a.code: a.name_vi for a in PROVINCE.agencies}
    assert names["SO-GTVT"] == "Sở Giao thông Vận tải"
    assert names["UBND-P-HC1"] == "UBND phường Hải Châu 1"
    assert all(a.name_en and a.name_en.isascii() for a in PROVINCE.agencies)
    assert {s.code for s in PROVINCE.subcategories} == {
        "flooding", "roads", "street_lighting", "rubbish", "noise", "trees", "water_supply",
        "power", "public_order", "other",
    }  # fmt: skip


def test_given_a_rule_to_an_unknown_agency_or_a_duplicate_code_when_validated_then_it_is_refused() -> (
    None
):
    bad_rule = dataclasses.replace(
        PROVINCE, rules=(*PROVINCE.rules, RoutingRule(Category.INFORMATION, None, None, "NOPE"))
    )
    twice = dataclasses.replace(PROVINCE, agencies=(*PROVINCE.agencies, PROVINCE.agencies[0]))

    with pytest.raises(ProvinceDataError, match="unknown agency 'NOPE'"):
        validate(bad_rule)
    with pytest.raises(ProvinceDataError, match="duplicate agency code"):
        validate(twice)


@pytest.mark.parametrize(
    ("status", "action", "role", "expected"),
    [
        (TicketStatus.NEW, Action.CLASSIFY, Role.OPERATOR, TicketStatus.CLASSIFIED),
        (TicketStatus.CLASSIFIED, Action.FORWARD, Role.OPERATOR, TicketStatus.FORWARDED),
        (TicketStatus.FORWARDED, Action.ACCEPT, Role.AGENCY, TicketStatus.ACCEPTED),
        (TicketStatus.ACCEPTED, Action.RESPOND, Role.AGENCY, TicketStatus.RESPONDED),
        (TicketStatus.RESPONDED, Action.CLOSE, Role.OPERATOR, TicketStatus.CLOSED),
        (TicketStatus.CLOSED, Action.REOPEN, Role.SUPERVISOR, TicketStatus.FORWARDED),
        (TicketStatus.ACCEPTED, Action.REASSIGN, Role.SUPERVISOR, TicketStatus.FORWARDED),
        (TicketStatus.FORWARDED, Action.MERGE, Role.OPERATOR, TicketStatus.MERGED),
        (TicketStatus.NEW, Action.TRANSFER, Role.OPERATOR, TicketStatus.TRANSFERRED),
    ],
)
def test_given_a_status_when_an_allowed_action_is_taken_then_the_ticket_moves_on(
    status: TicketStatus, action: Action, role: Role, expected: TicketStatus
) -> None:
    assert next_status(status, action, role) is expected


@pytest.mark.parametrize(
    ("status", "action", "role"),
    [
        (TicketStatus.CLOSED, Action.ACCEPT, Role.AGENCY),
        (TicketStatus.NEW, Action.RESPOND, Role.AGENCY),
        (TicketStatus.CLASSIFIED, Action.FORWARD, Role.AGENCY),
        (TicketStatus.FORWARDED, Action.REASSIGN, Role.OPERATOR),
        (TicketStatus.MERGED, Action.REOPEN, Role.ADMIN),
        (TicketStatus.TRANSFERRED, Action.CLOSE, Role.OPERATOR),
    ],
)
def test_given_a_status_when_a_forbidden_action_is_taken_then_it_is_refused(
    status: TicketStatus, action: Action, role: Role
) -> None:
    with pytest.raises(InvalidTransition):
        next_status(status, action, role)


def test_given_facilities_when_ranked_from_a_point_then_nearest_available_first() -> None:
    at_da_nang_hospital = Point(16.0722, 108.2150)
    facilities = [
        dataclasses.replace(f, available=0) if f.code == "BV-C" else f for f in PROVINCE.facilities
    ]

    ranked = [f.code for f in rank_facilities(facilities, at_da_nang_hospital)]

    assert ranked[0] == "BV-DN"
    assert "BV-C" not in ranked  # no free ambulance
    distances = [
        distance_km(at_da_nang_hospital, Point(f.lat, f.long))
        for f in rank_facilities(facilities, at_da_nang_hospital)
    ]
    assert distances == sorted(distances)
    assert round(distance_km(Point(16.0722, 108.2150), Point(16.0544, 108.2022)), 2) == 2.41


def test_given_facilities_already_asked_when_the_next_is_chosen_then_they_are_skipped_until_the_limit() -> (
    None
):
    where = Point(16.0722, 108.2150)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    asked: list[Attempt] = []
    order = []
    while (facility := next_facility(PROVINCE.facilities, where, asked)) is not None:
        order.append(facility.code)
        asked.append(
            Attempt(
                len(asked) + 1,
                facility.code,
                now,
                now + timedelta(seconds=90),
                DispatchResult.DECLINED,
            )
        )

    assert order == [f.code for f in rank_facilities(PROVINCE.facilities, where)][:MAX_ATTEMPTS]
    assert len(set(order)) == MAX_ATTEMPTS


def test_given_similar_vietnamese_texts_with_and_without_diacritics_when_scored_then_they_match() -> (
    None
):
    now = datetime(2026, 11, 26, tzinfo=UTC)
    candidates = [
        Candidate(1, "1022-26-000001", now, "Duong Bach Dang ngap sau sau mua lon"),
        Candidate(2, "1022-26-000002", now, "Đèn đường không sáng trên đường Trần Phú"),
    ]

    found = suggest("Đường Bạch Đằng ngập sâu sau mưa", candidates)

    assert similarity("Ngập úng", "ngap ung") == 1.0
    assert [s.code for s in found] == ["1022-26-000001"]
    assert found[0].score >= 0.6
