"""Deadlines as an iCalendar feed (RFC 5545) that Outlook and other calendars subscribe to.

Why a feed and not mail: a calendar fetches ``/kommune/NNNN/frister.ics`` on its own
schedule, so no mail server is needed and a changed date moves in everyone's calendar.
Each deadline is an all-day event whose UID is the record's IRI and the kind of
deadline, so a calendar updates the event rather than adding a second one.
"""

from __future__ import annotations

import datetime

from icalendar import Calendar, Event

from service.exports.portfolio import Portfolio

CALENDAR_MEDIA = "text/calendar"


def calendar_bytes(portfolio: Portfolio, now: datetime.datetime) -> bytes:
    """The portfolio's deadlines as one VCALENDAR; ``now`` is every event's DTSTAMP."""
    calendar = Calendar()
    calendar.add("prodid", "-//kommunegraf//frister//NB")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Frister / Deadlines – {portfolio.title}")
    for deadline in portfolio.deadlines:
        event = Event()
        event.add("uid", deadline.uid)
        event.add("dtstamp", now)
        event.add("dtstart", deadline.day)
        event.add("dtend", deadline.day + datetime.timedelta(days=1))
        event.add("summary", deadline.summary_nb)
        event.add("description", f"{deadline.summary_nb}\n{deadline.summary_en}\n{deadline.url}")
        event.add("url", deadline.url)
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    written: bytes = calendar.to_ical()
    return written
