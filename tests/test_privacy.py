"""Masking of callers' numbers in the text readers outside the call centre see
(``tickets.privacy``): Vietnamese numbers in any written form, glued to letters or not, and read
out in words as a transcript spells them; masked before a text is cut; recording paths left
out. Hypothesis writes the numbers and the text around them."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from tests.support.fuzzing import fuzz_settings
from tickets.privacy import _NUMBER_WORDS as NUMBER_WORDS
from tickets.privacy import HIDDEN, mask_text, redact, summary

MOBILE_PREFIXES = ("032", "035", "039", "070", "077", "081", "086", "088", "090", "091", "098")
LANDLINE_PREFIXES = ("0236", "0243", "0283", "0292")
# Words callers use around a number, none of them a number word.
CONTEXT_WORDS = (
    "tôi", "gọi", "lại", "cho", "số", "điện", "thoại", "của", "là", "nhé", "đường", "ngập",
    "sdt", "SĐT", "Phường", "Hải", "Châu", "xin", "cảm", "ơn", "liên", "hệ", "anh", "chị",
)  # fmt: skip
WORDS = {
    "0": ("không",),
    "1": ("một",),
    "2": ("hai",),
    "3": ("ba",),
    "4": ("bốn",),
    "5": ("năm",),
    "6": ("sáu",),
    "7": ("bảy", "bẩy"),
    "8": ("tám",),
    "9": ("chín",),
}


@st.composite
def phone_digits(draw: st.DrawFn) -> str:
    """A Vietnamese number as people write it: national mobile or landline, or +84/84."""
    kind = draw(st.sampled_from(("mobile", "landline", "international")))
    if kind == "landline":
        prefix = draw(st.sampled_from(LANDLINE_PREFIXES))
        return prefix + draw(st.text("0123456789", min_size=7, max_size=7))
    national = draw(st.sampled_from(MOBILE_PREFIXES)) + draw(
        st.text("0123456789", min_size=7, max_size=7)
    )
    return ("84" + national[1:]) if kind == "international" else national


@st.composite
def written(draw: st.DrawFn, digits: str) -> str:
    """``digits`` cut into groups, joined by what people put between them."""
    groups = []
    rest = digits
    while rest:
        size = draw(st.integers(1, 4))
        groups.append(rest[:size])
        rest = rest[size:]
    separator = draw(st.sampled_from(("", " ", ".", "-", "\u00a0", " - ", ") ")))
    text = separator.join(groups)
    if separator == ") ":
        text = "(" + text
    if digits.startswith("84") and draw(st.booleans()):
        text = "+" + text
    return text


@st.composite
def spoken(draw: st.DrawFn, digits: str) -> str:
    """``digits`` read out as a Vietnamese speaker does: one by one, or some in pairs
    ("mười hai", "ba tư", "bảy mốt", "hai lăm", "sáu mươi")."""
    words: list[str] = []
    i = 0
    while i < len(digits):
        pair = digits[i : i + 2]
        if len(pair) == 2 and pair[0] != "0" and draw(st.booleans()):
            tens, unit = pair[0], pair[1]
            if tens == "1":
                words.append("mười")
            else:
                words.append(draw(st.sampled_from(WORDS[tens])))
                if unit == "0" or draw(st.booleans()):
                    words.append("mươi")
            if unit == "1" and tens != "1":
                words.append("mốt")
            elif unit == "4" and tens != "1":
                words.append(draw(st.sampled_from(("tư", "bốn"))))
            elif unit == "5":
                words.append(draw(st.sampled_from(("lăm", "nhăm"))))
            elif unit != "0":
                words.append(draw(st.sampled_from(WORDS[unit])))
            i += 2
        else:
            words.append(draw(st.sampled_from(WORDS[digits[i]])))
            i += 1
    joiner = draw(st.sampled_from((" ", ", ", " - ")))
    text = joiner.join(words)
    return text.capitalize() if draw(st.booleans()) else text


context = st.lists(st.sampled_from(CONTEXT_WORDS), max_size=6).map(" ".join)


def digits_in(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


@fuzz_settings(200)
@given(phone_digits().flatmap(written), context, context, st.booleans())
def test_given_a_written_number_anywhere_in_a_text_when_masked_then_only_its_first_and_last_three_digits_remain(
    number: str, before: str, after: str, glued: bool
) -> None:
    space = "" if glued else " "
    text = f"{before}{space}{number}{space}{after}"

    masked = mask_text(text)

    digits = digits_in(number)
    assert digits_in(masked) == digits[:3] + digits[-3:]
    assert masked.startswith(before)
    assert masked.endswith(after)


@fuzz_settings(200)
@given(phone_digits().flatmap(spoken), context, context)
def test_given_a_number_read_out_in_words_when_masked_then_at_most_six_digits_worth_of_words_remain(
    number: str, before: str, after: str
) -> None:
    text = f"{before} {number} {after}".strip()

    masked = mask_text(text)

    left = [w for w in re.findall(r"[^\W\d_]+", masked.lower()) if w in NUMBER_WORDS]
    assert HIDDEN in masked
    assert len(left) - left.count("mươi") <= 6  # "mươi" adds no digit of its own: "ba mươi tư"
    assert masked.startswith(before)
    assert masked.endswith(after)


@fuzz_settings(200)
@given(phone_digits().flatmap(written), context, st.integers(0, 80))
def test_given_a_number_near_the_cut_when_a_summary_is_made_then_no_more_than_the_masked_digits_show(
    number: str, before: str, limit: int
) -> None:
    text = f"{before} {number} còn nữa"

    cut = summary(text, limit)

    assert cut == mask_text(text)[:limit]
    shown = digits_in(cut or "")
    assert len(shown) <= 6
    assert digits_in(number)[3:-3] not in digits_in(cut or "") or len(digits_in(number)) <= 6


@fuzz_settings(200)
@given(st.text())
def test_given_any_text_when_masked_twice_then_the_second_time_changes_nothing(text: str) -> None:
    once = mask_text(text)

    assert mask_text(once) == once


@fuzz_settings(200)
@given(st.text(alphabet=st.characters(blacklist_categories=["Nd", "Cs"])))
def test_given_text_without_digits_or_number_words_when_masked_then_it_is_unchanged(
    text: str,
) -> None:
    words = {w.lower() for w in re.findall(r"[^\W\d_]+", text)}
    if words & NUMBER_WORDS:
        return

    assert mask_text(text) == __import__("unicodedata").normalize("NFC", text)


def test_given_codes_sums_and_short_numbers_when_masked_then_they_stay() -> None:
    text = (
        "Mã phản ánh 1022-24-000123, gọi 1022 hoặc 115; phạt 150.000.000 đồng; "
        "nhà số 12, ngõ 34; ngày 05/06/2024; chín trăm linh năm hộ"
    )

    assert mask_text(text) == text


def test_given_examples_from_the_issue_when_masked_then_each_is_hidden() -> None:
    assert mask_text("sdt0905123471") == "sdt090****471"
    assert mask_text("+84905123471") == "+849*****471"
    assert mask_text("0905.123.471") == "090*.***.471"
    assert mask_text("0905 123 471") == "090* *** 471"
    assert mask_text("không chín không năm một hai ba bốn bảy một") == (
        f"không chín không {HIDDEN} bốn bảy một"
    )
    assert mask_text("khong chin khong nam mot hai ba bon bay mot") == (
        f"khong chin khong {HIDDEN} bon bay mot"
    )


def test_given_event_data_with_recordings_when_redacted_then_paths_are_gone_and_numbers_masked() -> (
    None
):
    events = [
        {
            "kind": "recorded",
            "data": {
                "purpose": "description",
                "file": "/var/spool/asterisk/2026-01-02/1764.1-description.wav",
                "seconds": 12.5,
            },
        },
        {"kind": "call_started", "data": {"caller": "0905123471", "call_recording": "/x.wav"}},
    ]

    assert redact(events) == [
        {"kind": "recorded", "data": {"purpose": "description", "file": None, "seconds": 12.5}},
        {"kind": "call_started", "data": {"caller": "090****471", "call_recording": None}},
    ]
