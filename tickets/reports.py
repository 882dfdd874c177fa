"""Figures for a period: 1022 requests by category, forwarded and the agencies involved,
responded on time, satisfactory responses; 115 requests, those sent to the nearest hospital or
health centre, the success rate (successful outcomes / all 115 requests) and the outcomes of the
requests sent and not sent; calls answered within 15/20 s and abandoned; per queue the operators
needed by Erlang C for the line's target (``tickets.staffing``: the peak over the period's 15-minute
intervals and where it falls, the mean over the intervals with calls). The figures come from a
``ReportRepository`` (SQL over the tickets, calls and queue intervals); this module only defines
them and renders them (table, CSV rows, labels in Vietnamese or English)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from tickets.codes import HOTLINE_TZ
from tickets.dispatch import Outcome
from tickets.erlang import StaffingTarget
from tickets.model import Category, Line
from tickets.staffing import INTERVAL, QueueStaffing, StaffingPolicy

CITIZEN_CATEGORIES = (Category.ADMIN_PROCEDURE, Category.FIELD_REPORT, Category.INFORMATION)
NO_OUTCOME = "no_outcome"  # row key of the tickets without an outcome code
MEDICAL_SENT = f"{Line.MEDICAL.value}_sent"  # section: outcomes of the requests sent
MEDICAL_NOT_SENT = f"{Line.MEDICAL.value}_not_sent"  # section: outcomes of those not sent
# Outcomes a request not sent to any facility normally ends with; the others are printed in
# that section only when they occur.
_NOT_SENT_OUTCOMES = (Outcome.PRANK, Outcome.DUPLICATE, Outcome.CANCELLED)


class Lang(StrEnum):
    VI = "vi"
    EN = "en"


@dataclass(frozen=True)
class CitizenFigures:
    by_category: dict[Category, int]
    unclassified: int
    forwarded: int
    agencies: int
    responded: int
    responded_on_time: int
    satisfied: int
    escalated: int

    @property
    def requests(self) -> int:
        return sum(self.by_category.values())


@dataclass(frozen=True)
class MedicalFigures:
    """Every 115 call leaves a ticket, so ``requests`` counts them all (prank calls, wrong
    numbers, duplicates, advice on the phone included); ``sent`` those with at least one
    dispatch request to a hospital or health centre. Outcome counts are split by sent / not sent;
    the key ``None`` counts tickets without an outcome code."""

    requests: int
    sent: int
    successful: int
    sent_by_outcome: dict[Outcome | None, int]
    not_sent_by_outcome: dict[Outcome | None, int]
    mean_minutes_to_scene: float | None

    @property
    def not_sent(self) -> int:
        return self.requests - self.sent

    @property
    def success_rate(self) -> float | None:
        """Successful outcomes / all 115 requests."""
        return ratio(self.successful, self.requests)

    @property
    def success_rate_of_sent(self) -> float | None:
        """Successful outcomes / requests sent to a facility (the seed's other reading:
        1,482 / 2,785 = 53.2 %)."""
        return ratio(self.successful, self.sent)


@dataclass(frozen=True)
class CallFigures:
    queued: int
    answered: int
    within_15s: int
    within_20s: int
    abandoned: int

    def service_level(self, line: Line) -> float | None:
        """Answered within the line's time (115: 15 s, 1022: 20 s) / calls queued."""
        within = self.within_15s if line is Line.MEDICAL else self.within_20s
        return ratio(within, self.queued)


def sum_calls(parts: Iterable[CallFigures]) -> CallFigures:
    """The calls of several months (or intervals) together."""
    total = CallFigures(0, 0, 0, 0, 0)
    for part in parts:
        total = CallFigures(
            total.queued + part.queued,
            total.answered + part.answered,
            total.within_15s + part.within_15s,
            total.within_20s + part.within_20s,
            total.abandoned + part.abandoned,
        )
    return total


@dataclass(frozen=True)
class ReviewFigures:
    """The quality reviews of a line's calls (``tickets.reviews``): how many, and their mean
    weighted score in percent."""

    reviews: int
    mean_score: float


def sum_reviews(parts: Iterable[ReviewFigures]) -> ReviewFigures:
    """Several months' reviews together: the mean weighted by each month's reviews."""
    items = list(parts)
    total = sum(p.reviews for p in items)
    mean = sum(p.mean_score * p.reviews for p in items) / total if total else 0.0
    return ReviewFigures(total, mean)


@dataclass(frozen=True)
class MonthFigures:
    """One calendar month of the period (the first and the last may be partial): requests by
    category (1022's three and 115's ``medical``), the calls of each line and the reviews of
    each line's calls (in the month they were reviewed)."""

    month: date  # its first day
    requests: dict[Category, int]
    calls: dict[Line, CallFigures] = field(default_factory=dict)
    reviews: dict[Line, ReviewFigures] = field(default_factory=dict)


@dataclass(frozen=True)
class AgencyFigures:
    """1022 tickets forwarded to one agency in the period, answered, rated satisfactory."""

    agency: str  # its code
    forwarded: int
    responded: int
    satisfied: int

    @property
    def satisfied_rate(self) -> float | None:
        """Responses rated satisfactory / responses (as the report's ``satisfied``)."""
        return ratio(self.satisfied, self.responded)


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    lines: tuple[Line, ...]
    citizen: CitizenFigures | None
    medical: MedicalFigures | None
    calls: dict[Line, CallFigures] = field(default_factory=dict)
    staffing: tuple[QueueStaffing, ...] = ()  # the queues of ``lines`` that had intervals
    months: tuple[MonthFigures, ...] = ()  # in order
    agencies: tuple[AgencyFigures, ...] = ()  # those 1022 tickets were forwarded to


class ReportRepository(Protocol):
    async def report(
        self,
        start: date,
        end: date,
        lines: tuple[Line, ...],
        staffing: StaffingPolicy | None = None,
    ) -> Report: ...


MAX_REPORT_DAYS = 3660


def parse_day(text: str) -> date:
    """A day as people write it in Vietnam, ``15/11/2019`` (or ``15-11-2019``), or as
    ``2019-11-15``; ``ValueError`` otherwise."""
    text = text.strip()
    for pattern in ("%d/%m/%Y", "%d-%m-%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"not a day (dd/mm/yyyy or yyyy-mm-dd): {text!r}")


def check_period(start: date, end: date) -> None:
    """``ValueError`` unless ``start`` ≤ ``end`` and the period lasts at most ten years."""
    if end < start:
        raise ValueError("the period ends before it starts")
    if (end - start).days > MAX_REPORT_DAYS:
        raise ValueError("the period is longer than ten years")


def last_full_month(today: date) -> tuple[date, date]:
    """The calendar month before ``today``'s: the period a report opens on."""
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


_LABELS: dict[str, tuple[str, str]] = {
    "title": ("Báo cáo tổng đài", "Hotline report"),
    "period": ("Từ ngày {start} đến ngày {end}", "From {start} to {end}"),
    "line_1022": ("Đường dây 1022", "Line 1022"),
    "line_115": ("Đường dây 115", "Line 115"),
    "requests": ("Số yêu cầu", "Requests"),
    Category.ADMIN_PROCEDURE.value: ("  Thủ tục hành chính", "  Administrative procedures"),
    Category.FIELD_REPORT.value: ("  Phản ánh hiện trường", "  Field reports"),
    Category.INFORMATION.value: ("  Thông tin, góp ý", "  Information and feedback"),
    "unclassified": ("Cuộc gọi chưa phân loại", "Unclassified calls"),
    "forwarded": ("Chuyển đến cơ quan xử lý", "Forwarded to agencies"),
    "agencies": ("Số cơ quan tiếp nhận", "Agencies involved"),
    "responded": ("Đã trả lời", "Responded"),
    "responded_on_time": ("Trả lời đúng hạn", "Responded on time"),
    "satisfied": ("Trả lời được đánh giá hài lòng", "Responses rated satisfactory"),
    "escalated": ("Quá hạn, đã nhắc", "Overdue, escalated"),
    "sent": (
        "Chuyển đến bệnh viện, trung tâm y tế gần nhất",
        "Sent to the nearest hospital or health centre",
    ),
    "not_sent": ("Không chuyển đến cơ sở y tế", "Not sent to any facility"),
    "successful": ("Xử lý thành công", "Handled successfully"),
    "successful_of_sent": (
        "Xử lý thành công, trên số đã chuyển cơ sở y tế",
        "Handled successfully, of those sent to a facility",
    ),
    "mean_minutes_to_scene": (
        "Thời gian trung bình đến hiện trường (phút)",
        "Mean time to scene (minutes)",
    ),
    Outcome.HANDLED.value: ("Xử lý tại chỗ", "Treated on scene"),
    Outcome.TRANSPORTED.value: ("Chuyển viện", "Transported"),
    Outcome.NO_VEHICLE.value: ("Không có xe", "No vehicle"),
    Outcome.CANCELLED.value: ("Hủy, từ chối, gác máy", "Cancelled, refused or hung up"),
    Outcome.UNREACHABLE.value: ("Không tiếp cận được", "Unreachable"),
    Outcome.PRANK.value: ("Gọi quấy rối, báo tin giả", "Prank or false alarm"),
    Outcome.DUPLICATE.value: ("Trùng lặp", "Duplicate"),
    NO_OUTCOME: ("Không có mã kết quả", "No outcome code"),
    Category.MEDICAL.value: ("Yêu cầu cấp cứu 115", "115 requests"),
    "service_level_1022": (
        "Trả lời trong 20 giây, đường dây 1022",
        "Answered within 20 s, line 1022",
    ),
    "service_level_115": ("Trả lời trong 15 giây, đường dây 115", "Answered within 15 s, line 115"),
    "reviewed_calls": ("Cuộc gọi được đánh giá", "Calls reviewed"),
    "review_score": ("Điểm đánh giá trung bình (%)", "Average review score (%)"),
    "review_score_1022": (
        "Điểm đánh giá trung bình (%), đường dây 1022",
        "Average review score (%), line 1022",
    ),
    "review_score_115": (
        "Điểm đánh giá trung bình (%), đường dây 115",
        "Average review score (%), line 115",
    ),
    "calls_queued": ("Cuộc gọi vào hàng đợi", "Calls queued"),
    "calls_answered": ("Cuộc gọi được trả lời", "Calls answered"),
    "within_15s": ("Trả lời trong 15 giây", "Answered within 15 s"),
    "within_20s": ("Trả lời trong 20 giây", "Answered within 20 s"),
    "abandoned": ("Cuộc gọi bỏ máy khi chờ", "Abandoned in queue"),
    f"line_{MEDICAL_SENT}": (
        "Đường dây 115: đã chuyển cơ sở y tế, theo kết quả",
        "Line 115: sent to a facility, by outcome",
    ),
    f"line_{MEDICAL_NOT_SENT}": (
        "Đường dây 115: không chuyển cơ sở y tế, theo kết quả",
        "Line 115: not sent to any facility, by outcome",
    ),
    "staffing_target": ("Mục tiêu mức phục vụ", "Service level target"),
    # the queue's load: a call moved here from the other line counts (its line is where it came
    # in, so the line's "calls queued" above leaves it out and the two differ)
    "staffing_received": (
        "Cuộc gọi vào hàng đợi (kể cả cuộc gọi chuyển từ đường dây kia sang)",
        "Calls queued (calls moved in from the other line included)",
    ),
    "staffing_aht": ("Thời gian xử lý trung bình (giây)", "Average handling time (s)"),
    "staffing_intervals": ("Số khung 15 phút có cuộc gọi", "15-minute intervals with calls"),
    "staffing_peak": ("Số điện thoại viên cần lúc cao điểm", "Operators needed at the peak"),
    "staffing_peak_at": ("Khung 15 phút cao điểm", "Peak 15-minute interval"),
    "staffing_mean": ("Trung bình mỗi khung có cuộc gọi", "Mean per interval with calls"),
    "section": ("Mục", "Section"),
    "figure": ("Chỉ tiêu", "Figure"),
    "value": ("Số lượng", "Value"),
    "share": ("Tỷ lệ", "Share"),
}


def label(key: str, lang: Lang) -> str:
    vi, en = _LABELS[key]
    return vi if lang is Lang.VI else en


def format_int(value: int, lang: Lang) -> str:
    """``3.057`` in Vietnamese, ``3,057`` in English."""
    text = f"{value:,}"
    return text.replace(",", ".") if lang is Lang.VI else text


def format_ratio(value: float | None, lang: Lang) -> str:
    """One decimal: ``77,0 %`` in Vietnamese, ``77.0 %`` in English; ``–`` when undefined."""
    if value is None:
        return "–"
    text = f"{value * 100:.1f} %"
    return text.replace(".", ",") if lang is Lang.VI else text


def format_float(value: float | None, lang: Lang) -> str:
    if value is None:
        return "–"
    text = f"{value:.1f}"
    return text.replace(".", ",") if lang is Lang.VI else text


def target_text(target: StaffingTarget, lang: Lang) -> str:
    """``90 % trong 15 giây`` in Vietnamese, ``90 % within 15 s`` in English."""
    level = f"{target.level * 100:.1f}".removesuffix(".0")
    if lang is Lang.VI:
        return f"{level.replace('.', ',')} % trong {target.seconds} giây"
    return f"{level} % within {target.seconds} s"


def interval_text(start: datetime, lang: Lang) -> str:
    """A 15-minute interval in hotline time: ``26/11/2026 08:00–08:15`` in Vietnamese,
    ``2026-11-26 08:00–08:15`` in English."""
    local = start.astimezone(HOTLINE_TZ)
    day = local.strftime("%d/%m/%Y" if lang is Lang.VI else "%Y-%m-%d")
    return f"{day} {local:%H:%M}–{local + INTERVAL:%H:%M}"


@dataclass(frozen=True)
class Row:
    """One figure. ``text`` (Vietnamese, English) is what the table and the page show instead of
    the value, for figures that are not a plain number (a target, an interval)."""

    section: str  # "1022", "115", "calls_1022", "calls_115", "staffing_115_emergency-115"
    key: str
    value: int | float | str | None
    share: float | None = None
    text: tuple[str, str] | None = None

    def value_text(self, lang: Lang) -> str:
        if self.text is not None:
            return self.text[0] if lang is Lang.VI else self.text[1]
        if isinstance(self.value, str):
            return self.value
        if isinstance(self.value, int):
            return format_int(self.value, lang)
        return format_float(self.value, lang)

    def share_text(self, lang: Lang) -> str:
        """The share as a percentage; empty when there is none or ``text`` already says it."""
        return "" if self.share is None or self.text else format_ratio(self.share, lang)


def rows(report: Report) -> list[Row]:
    """The report as rows, in print order; the same rows feed the table, the CSV, the page and
    the JSON."""
    out: list[Row] = []
    citizen = report.citizen
    if citizen is not None:
        s = Line.CITIZEN.value
        out.append(Row(s, "requests", citizen.requests))
        for category in CITIZEN_CATEGORIES:
            count = citizen.by_category.get(category, 0)
            out.append(Row(s, category.value, count, ratio(count, citizen.requests)))
        out.append(Row(s, "unclassified", citizen.unclassified))
        out.append(
            Row(s, "forwarded", citizen.forwarded, ratio(citizen.forwarded, citizen.requests))
        )
        out.append(Row(s, "agencies", citizen.agencies))
        out.append(
            Row(s, "responded", citizen.responded, ratio(citizen.responded, citizen.forwarded))
        )
        out.append(
            Row(
                s,
                "responded_on_time",
                citizen.responded_on_time,
                ratio(citizen.responded_on_time, citizen.responded),
            )
        )
        out.append(
            Row(s, "satisfied", citizen.satisfied, ratio(citizen.satisfied, citizen.responded))
        )
        out.append(
            Row(s, "escalated", citizen.escalated, ratio(citizen.escalated, citizen.forwarded))
        )
    medical = report.medical
    if medical is not None:
        out.extend(_medical_rows(medical))
    for line in report.lines:
        calls = report.calls.get(line)
        if calls is None:
            continue
        s = f"calls_{line.value}"
        out.append(Row(s, "calls_queued", calls.queued))
        out.append(Row(s, "calls_answered", calls.answered, ratio(calls.answered, calls.queued)))
        out.append(Row(s, "within_15s", calls.within_15s, ratio(calls.within_15s, calls.queued)))
        out.append(Row(s, "within_20s", calls.within_20s, ratio(calls.within_20s, calls.queued)))
        out.append(Row(s, "abandoned", calls.abandoned, ratio(calls.abandoned, calls.queued)))
    for line in report.lines:
        for queue in sorted((q for q in report.staffing if q.line is line), key=lambda q: q.queue):
            out.extend(_staffing_rows(queue))
    for line in report.lines:
        months = [m.reviews[line] for m in report.months if line in m.reviews]
        if months:
            reviewed = sum_reviews(months)
            s = f"reviews_{line.value}"
            out.append(Row(s, "reviewed_calls", reviewed.reviews))
            out.append(Row(s, "review_score", round(reviewed.mean_score, 2)))
    return out


def series_rows(report: Report) -> list[Row]:
    """The period month by month (requests by category, the calls each line answered within its
    time: the service level as share) and agency by agency (forwarded, answered, rated
    satisfactory: as share of the answered), for the CSV."""
    out: list[Row] = []
    categories = [c for c in (*CITIZEN_CATEGORIES, Category.MEDICAL) if _line_of(c) in report.lines]
    for month in report.months:
        s = f"month_{month.month:%Y-%m}"
        for category in categories:
            out.append(Row(s, category.value, month.requests.get(category, 0)))
        for line, calls in sorted(month.calls.items()):
            within = calls.within_15s if line is Line.MEDICAL else calls.within_20s
            out.append(Row(s, f"service_level_{line.value}", within, calls.service_level(line)))
        for line, reviewed in sorted(month.reviews.items()):
            out.append(Row(s, f"review_score_{line.value}", round(reviewed.mean_score, 2)))
    for agency in sorted(report.agencies, key=lambda a: a.agency):
        s = f"agency_{agency.agency}"
        out.append(Row(s, "forwarded", agency.forwarded))
        out.append(Row(s, "responded", agency.responded, ratio(agency.responded, agency.forwarded)))
        out.append(Row(s, "satisfied", agency.satisfied, agency.satisfied_rate))
    return out


def _line_of(category: Category) -> Line:
    return Line.MEDICAL if category is Category.MEDICAL else Line.CITIZEN


def staffing_section(line: Line, queue: str) -> str:
    return f"staffing_{line.value}_{queue}"


def _staffing_rows(queue: QueueStaffing) -> list[Row]:
    """The target (value: seconds, share: level), calls, handling time, the peak of operators
    needed and its interval (value: ISO start), the mean over the intervals with calls. The
    peak is unknown (–) when calls came but no handling time was ever measured."""
    s = staffing_section(queue.line, queue.queue)
    at = queue.peak_interval_start
    known = at is not None or queue.received == 0
    return [
        Row(
            s,
            "staffing_target",
            queue.target.seconds,
            queue.target.level,
            text=(target_text(queue.target, Lang.VI), target_text(queue.target, Lang.EN)),
        ),
        Row(s, "staffing_received", queue.received),
        Row(s, "staffing_aht", queue.aht_seconds),
        Row(s, "staffing_intervals", queue.intervals_with_calls),
        Row(s, "staffing_peak", queue.peak_operators_needed if known else None),
        Row(
            s,
            "staffing_peak_at",
            None if at is None else at.astimezone(HOTLINE_TZ).isoformat(),
            text=None if at is None else (interval_text(at, Lang.VI), interval_text(at, Lang.EN)),
        ),
        Row(s, "staffing_mean", queue.mean_operators_needed),
    ]


def _medical_rows(medical: MedicalFigures) -> list[Row]:
    """Every share on 115 is of all 115 requests — so the success rate is successful / all
    requests and the outcome rows of both sections add up to 100 % — but one: the successful
    ones once more, as a share of those sent to a facility."""
    s, whole = Line.MEDICAL.value, medical.requests
    out = [
        Row(s, "requests", whole),
        Row(s, "sent", medical.sent, ratio(medical.sent, whole)),
        Row(s, "not_sent", medical.not_sent, ratio(medical.not_sent, whole)),
        Row(s, "successful", medical.successful, medical.success_rate),
        Row(s, "successful_of_sent", medical.successful, medical.success_rate_of_sent),
        Row(s, "mean_minutes_to_scene", medical.mean_minutes_to_scene),
    ]
    for section, counts, shown in (
        (MEDICAL_SENT, medical.sent_by_outcome, tuple(Outcome)),
        (MEDICAL_NOT_SENT, medical.not_sent_by_outcome, _NOT_SENT_OUTCOMES),
    ):
        for outcome in Outcome:
            count = counts.get(outcome, 0)
            if outcome in shown or count:
                out.append(Row(section, outcome.value, count, ratio(count, whole)))
        count = counts.get(None, 0)
        out.append(Row(section, NO_OUTCOME, count, ratio(count, whole)))
    return out


def section_title(section: str, lang: Lang) -> str:
    if section.startswith("staffing_"):
        line, _, queue = section.removeprefix("staffing_").partition("_")
        if lang is Lang.VI:
            return f"Số điện thoại viên cần theo Erlang C: đường dây {line}, hàng đợi {queue}"
        return f"Operators needed by Erlang C: line {line}, queue {queue}"
    if section.startswith("reviews_"):
        line = section.removeprefix("reviews_")
        return (
            "Đánh giá chất lượng cuộc gọi " if lang is Lang.VI else "Call quality reviews "
        ) + line
    if section.startswith("calls_"):
        line = section.removeprefix("calls_")
        return ("Cuộc gọi " if lang is Lang.VI else "Calls ") + line
    return label(f"line_{section}", lang)


def period_text(report: Report, lang: Lang) -> str:
    fmt = "%d/%m/%Y" if lang is Lang.VI else "%Y-%m-%d"
    return label("period", lang).format(
        start=report.start.strftime(fmt), end=report.end.strftime(fmt)
    )


def format_table(report: Report, lang: Lang = Lang.VI) -> str:
    """The plain-text table ``hotline report`` prints."""
    table = rows(report)
    width = max([len(label(r.key, lang)) for r in table] + [30])
    lines = [label("title", lang), period_text(report, lang)]
    section = None
    for row in table:
        if row.section != section:
            section = row.section
            lines.append("")
            lines.append(section_title(section, lang))
        share = row.share_text(lang)
        lines.append(
            f"  {label(row.key, lang):<{width}}  {row.value_text(lang):>9}  {share:>8}".rstrip()
        )
    return "\n".join(lines) + "\n"


def to_csv(report: Report, lang: Lang = Lang.VI) -> str:
    """CSV with machine keys and labels; values unformatted (``0.7698`` not ``77,0 %``). A
    staffing target is value = seconds, share = level; a peak interval is its ISO start."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["from", "to", "section", "key", label("figure", lang), "value", "share"])
    for row in rows(report) + series_rows(report):
        value = (
            ""
            if row.value is None
            else (row.value if isinstance(row.value, int | str) else f"{row.value:.2f}")
        )
        share = "" if row.share is None else f"{row.share:.4f}"
        writer.writerow(
            [
                report.start.isoformat(),
                report.end.isoformat(),
                row.section,
                row.key,
                label(row.key, lang).strip(),
                value,
                share,
            ]
        )
    return buffer.getvalue()


def _row_json(row: Row) -> dict[str, object]:
    out: dict[str, object] = {
        "section": row.section,
        "key": row.key,
        "label_vi": label(row.key, Lang.VI).strip(),
        "label_en": label(row.key, Lang.EN).strip(),
        "value": row.value,
        "share": None if row.share is None else round(row.share, 4),
    }
    if row.text is not None:
        out["text_vi"], out["text_en"] = row.text
    return out


def _staffing_json(queue: QueueStaffing) -> dict[str, object]:
    at = queue.peak_interval_start
    mean = queue.mean_operators_needed
    return {
        "queue": queue.queue,
        "line": queue.line.value,
        "target": queue.target.level,
        "seconds": queue.target.seconds,
        "received": queue.received,
        "aht_seconds": None if queue.aht_seconds is None else round(queue.aht_seconds, 1),
        "intervals_with_calls": queue.intervals_with_calls,
        "peak_operators_needed": queue.peak_operators_needed,
        "peak_interval_start": None if at is None else at.astimezone(HOTLINE_TZ).isoformat(),
        "mean_operators_needed": None if mean is None else round(mean, 2),
    }


def _calls_json(line: Line, calls: CallFigures) -> dict[str, object]:
    level = calls.service_level(line)
    return {
        "queued": calls.queued,
        "answered": calls.answered,
        "within_15s": calls.within_15s,
        "within_20s": calls.within_20s,
        "abandoned": calls.abandoned,
        "service_level": None if level is None else round(level, 4),
        "service_level_seconds": 15 if line is Line.MEDICAL else 20,
    }


def _month_json(month: MonthFigures) -> dict[str, object]:
    return {
        "month": f"{month.month:%Y-%m}",
        "requests": {c.value: n for c, n in month.requests.items()},
        "calls": {line.value: _calls_json(line, c) for line, c in sorted(month.calls.items())},
        "reviews": {
            line.value: {"reviews": r.reviews, "mean_score": round(r.mean_score, 2)}
            for line, r in sorted(month.reviews.items())
        },
    }


def _agency_json(agency: AgencyFigures) -> dict[str, object]:
    rate = agency.satisfied_rate
    return {
        "agency": agency.agency,
        "forwarded": agency.forwarded,
        "responded": agency.responded,
        "satisfied": agency.satisfied,
        "satisfied_rate": None if rate is None else round(rate, 4),
    }


def to_json(report: Report) -> dict[str, object]:
    return {
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "lines": [line.value for line in report.lines],
        "rows": [_row_json(r) for r in rows(report)],
        "staffing": [_staffing_json(q) for q in report.staffing],
        "months": [_month_json(m) for m in report.months],
        "agencies": [_agency_json(a) for a in report.agencies],
    }
