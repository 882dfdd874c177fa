"""What citizens are told, per ticket event, in Vietnamese; an unaccented variant for SMS routes
that only carry GSM-7, and how many SMS parts a text takes (160/153 GSM-7, 70/67 UCS-2)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from math import ceil
from typing import Any


class Event(StrEnum):
    RECEIVED = "received"
    FORWARDED = "forwarded"
    RESPONDED = "responded"
    CLOSED = "closed"
    SURVEY = "survey"


TEMPLATES: dict[Event, str] = {
    Event.RECEIVED: ("Tổng đài {line} đã tiếp nhận yêu cầu của bạn, mã số {code}. Tra cứu: {link}"),
    Event.FORWARDED: ("Yêu cầu {code} đã được chuyển đến {agency} để xử lý. Tra cứu: {link}"),
    Event.RESPONDED: "{agency} đã trả lời yêu cầu {code}. Xem nội dung: {link}",
    Event.CLOSED: "Yêu cầu {code} đã kết thúc. Cảm ơn bạn đã liên hệ Tổng đài {line}.",
    Event.SURVEY: (
        "Bạn có hài lòng với kết quả xử lý yêu cầu {code}? "
        "Trả lời 1 nếu hài lòng, 2 nếu chưa hài lòng. Soạn TC để từ chối nhận tin."
    ),
}

# GSM 03.38: the basic table (one septet) and the extension table (escape + one septet).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


class Coding(StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True)
class SmsText:
    text: str
    coding: Coding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int


def strip_diacritics(text: str) -> str:
    """``Tổng đài`` → ``Tong dai``: Vietnamese without tone and vowel marks, đ/Đ as d/D."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare)


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def measure(text: str) -> SmsText:
    """Coding and part count: one part holds 160 septets or 70 UCS-2 units; a concatenated
    message loses room to its header (153 and 67 per part)."""
    if is_gsm7(text):
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        single, multi, coding = 160, 153, Coding.GSM7
    else:
        units = len(text.encode("utf-16-be")) // 2
        single, multi, coding = 70, 67, Coding.UCS2
    parts = 1 if units <= single else ceil(units / multi)
    return SmsText(text, coding, units, parts)


def render(event: Event, params: dict[str, Any], *, lookup_url: str) -> str:
    code = str(params.get("code", ""))
    values = {
        "code": code,
        "line": str(params.get("line", "1022")),
        "agency": str(params.get("agency") or "cơ quan chức năng"),
        "link": f"{lookup_url}?ma={code}",
    }
    return TEMPLATES[event].format(**values)


def render_sms(
    event: Event, params: dict[str, Any], *, lookup_url: str, unaccented: bool
) -> SmsText:
    text = render(event, params, lookup_url=lookup_url)
    return measure(strip_diacritics(text) if unaccented else text)


# Parameters of the approved ZNS templates (one template per event; ids are configuration).
def zns_data(event: Event, params: dict[str, Any]) -> dict[str, str]:
    """Template parameters are short labelled values (Zalo limits most to 30 characters)."""
    data = {"ma_yeu_cau": str(params.get("code", "")), "tong_dai": str(params.get("line", ""))}
    if event in (Event.FORWARDED, Event.RESPONDED):
        data["co_quan"] = str(params.get("agency") or "cơ quan chức năng")[:200]
    return data
