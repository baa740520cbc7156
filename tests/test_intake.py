"""Complaint intake: the hotline's daily window and the day each complaint belongs to."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given

from inspection_flow import (
    SHANGHAI,
    AnchorError,
    Channel,
    DailyWindow,
    IntakeRule,
    InvalidRuleError,
)
from strategies import aware_instants

D = dt.date
HOTLINE = IntakeRule(DailyWindow(dt.time(8), dt.time(20)))


def at(hour: int, minute: int = 0) -> dt.datetime:
    """An instant on 2023-06-27, the second day of the Yiyang station-in, in Shanghai."""
    return dt.datetime(2023, 6, 27, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("hour", "minute"), [(7, 59), (8, 0), (19, 59)])
def test_calls_up_to_closing_belong_to_the_day(hour: int, minute: int) -> None:
    """Calls at 07:59, 08:00 and 19:59 on 06-27 belong to 06-27's intake, batched on 06-28."""
    assert HOTLINE.intake_day(at(hour, minute), Channel.PHONE) == D(2023, 6, 27)
    assert HOTLINE.batch_day(at(hour, minute), Channel.PHONE) == D(2023, 6, 28)


@pytest.mark.parametrize(("hour", "minute"), [(20, 0), (23, 0), (23, 59)])
def test_calls_after_closing_belong_to_the_next_day(hour: int, minute: int) -> None:
    """Calls at 20:00 or later on 06-27 belong to 06-28's intake, batched on 06-29."""
    assert HOTLINE.intake_day(at(hour, minute), "phone") == D(2023, 6, 28)
    assert HOTLINE.batch_day(at(hour, minute), "phone") == D(2023, 6, 29)


@pytest.mark.parametrize("channel", [Channel.LETTER, Channel.MAILBOX, Channel.EMAIL, "letter"])
def test_written_complaints_belong_to_their_own_day(channel: Channel | str) -> None:
    """A letter (or mailbox, e-mail) arriving at 23:00 belongs to the day it arrives."""
    assert HOTLINE.intake_day(at(23), channel) == D(2023, 6, 27)
    assert HOTLINE.batch_day(at(23), channel) == D(2023, 6, 28)


def test_phone_is_the_default_channel() -> None:
    """Without a channel, a complaint is taken as a phone call."""
    assert HOTLINE.intake_day(at(21)) == D(2023, 6, 28)
    assert IntakeRule() == HOTLINE


def test_instants_in_other_zones_use_shanghai_time() -> None:
    """12:30 UTC is 20:30 in Shanghai: after closing, so the next day's intake."""
    instant = dt.datetime(2023, 6, 27, 12, 30, tzinfo=dt.timezone.utc)
    assert HOTLINE.intake_day(instant) == D(2023, 6, 28)
    early = dt.datetime(2023, 6, 26, 23, 30, tzinfo=dt.timezone.utc)  # 07:30 on 06-27
    assert HOTLINE.intake_day(early) == D(2023, 6, 27)


def test_other_windowed_channels() -> None:
    """Visits can be windowed too: a visit after closing belongs to the next day."""
    rule = IntakeRule(windowed_channels=["phone", "visit"])
    assert rule.windowed_channels == frozenset({Channel.PHONE, Channel.VISIT})
    assert rule.intake_day(at(21), Channel.VISIT) == D(2023, 6, 28)
    assert rule.intake_day(at(21), Channel.LETTER) == D(2023, 6, 27)


def test_unknown_channel_is_refused() -> None:
    """A channel that is not phone, letter, mailbox, email or visit is refused, naming them."""
    with pytest.raises(InvalidRuleError, match="phone") as info:
        HOTLINE.intake_day(at(9), "fax")
    assert info.value.field == "channel"
    with pytest.raises(InvalidRuleError):
        IntakeRule(windowed_channels=["fax"])


def test_naive_datetimes_are_refused() -> None:
    """Intake, batching and windows refuse naive datetimes."""
    naive = dt.datetime(2023, 6, 27, 21)
    with pytest.raises(AnchorError, match="received_at"):
        HOTLINE.intake_day(naive)
    with pytest.raises(AnchorError):
        HOTLINE.batch_day(naive, Channel.LETTER)
    with pytest.raises(AnchorError):
        HOTLINE.window.contains(naive)


def test_window_contains() -> None:
    """The window is [08:00, 20:00): open at 08:00, closed from 20:00."""
    window = HOTLINE.window
    assert not window.contains(at(7, 59))
    assert window.contains(at(8))
    assert window.contains(at(19, 59).replace(second=59, microsecond=999_999))
    assert not window.contains(at(20))
    assert window.describe() == "08:00–20:00"


@pytest.mark.parametrize(
    ("opens", "closes"),
    [
        (dt.time(20), dt.time(8)),
        (dt.time(8), dt.time(8)),
        (dt.time(8, tzinfo=SHANGHAI), dt.time(20)),
        ("08:00", dt.time(20)),
    ],
)
def test_window_validation(opens: Any, closes: Any) -> None:
    """A window opens before it closes on the same day, with plain times of day."""
    with pytest.raises(InvalidRuleError):
        DailyWindow(opens, closes)


def test_channel_labels() -> None:
    """Each channel has a Chinese label."""
    assert Channel.PHONE.label_zh == "电话"
    assert Channel.LETTER.label_zh == "来信"
    assert {c.label_zh for c in Channel} == {"电话", "来信", "邮政信箱", "电子邮件", "来访"}


@given(instant=aware_instants())
def test_intake_day_property(instant: dt.datetime) -> None:
    """A call belongs to its Shanghai day before 20:00 and to the next day from 20:00 on."""
    local = instant.astimezone(SHANGHAI)
    after_closing = local.time() >= dt.time(20)
    expected = local.date() + dt.timedelta(days=after_closing)
    assert HOTLINE.intake_day(instant) == expected
    assert HOTLINE.batch_day(instant) == expected + dt.timedelta(days=1)
    assert HOTLINE.intake_day(instant, Channel.LETTER) == local.date()
