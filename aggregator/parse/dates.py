"""Dates in the forms feedparser misreads or gives up on, as Chinese and other sites write them.

feedparser reads RFC 822 (https://www.rfc-editor.org/rfc/rfc822#section-5) and W3C-DTF / ISO 8601
dates, and a few national forms. It goes wrong on these (feedparser 6.0):

- "2021年7月5日", "2021/07/05 23:58", "2021.07.05": its ISO 8601 reader takes the year alone and
  fills month and day in from *today*, a wrong date that looks right;
- "1625500680" (a Unix timestamp): read as an ISO 8601 date in 2016;
- an RFC 822 date without a zone ("Mon, 05 Jul 2021 23:58:00"), with the weekday in another
  language ("星期一, 05 Jul 2021 ...") or with a "GMT+8" zone: no date at all.

parse_date() reads those forms and answers None for any other, which is left to feedparser (named
zones such as "EST" or "CST", ISO 8601 with "-" separators, ...). A date without a zone is taken as
UTC, as feedparser takes one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_ZONE = r"(?P<zone>Z|UTC|GMT|(?:UTC|GMT)?\s*(?P<sign>[+-])(?P<zh>\d{1,2})(?::?(?P<zm>\d{2}))?)?"
_TIME = r"(?:[\sT]*(?P<hour>\d{1,2})\s*[:：时]\s*(?P<minute>\d{1,2})(?:\s*[:：分]\s*(?P<second>\d{1,2})(?:\.\d+)?)?\s*[分秒]?)?"
# 2021年7月5日, 2021/07/05, 2021.7.5, each with an optional time and zone.
_YEAR_FIRST = re.compile(
    rf"\s*(?P<year>\d{{4}})\s*[年/.]\s*(?P<month>\d{{1,2}})\s*[月/.]\s*(?P<day>\d{{1,2}})\s*日?{_TIME}\s*{_ZONE}\s*",
    re.IGNORECASE,
)
# RFC 822 with any weekday word (or none), a numeric zone (or none).
_RFC822 = re.compile(
    r"\s*(?:[^\s\d,]+\s*,?\s*)?(?P<day>\d{1,2})\s+(?P<month_name>[A-Za-z]{3})[A-Za-z]*\.?\s+(?P<year>\d{4})"
    rf"\s+(?P<hour>\d{{1,2}}):(?P<minute>\d{{2}})(?::(?P<second>\d{{2}}))?\s*{_ZONE}\s*",
    re.IGNORECASE,
)
_EPOCH = re.compile(r"\s*(?P<seconds>\d{10})(?P<milliseconds>\d{3})?\s*")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}


def parse_date(text: str) -> datetime | None:
    """The UTC datetime `text` denotes when it is in one of the forms above, else None."""
    if len(text) > 100:  # no date is this long; keeps the patterns' work small
        return None
    if match := _EPOCH.fullmatch(text):
        return datetime.fromtimestamp(int(match["seconds"]), UTC)
    if match := _YEAR_FIRST.fullmatch(text):
        month = int(match["month"])
    elif (match := _RFC822.fullmatch(text)) and match["month_name"].lower() in _MONTHS:
        month = _MONTHS[match["month_name"].lower()]
    else:
        return None
    try:
        zone = _zone(match)
        moment = datetime(
            int(match["year"]),
            month,
            int(match["day"]),
            int(match["hour"] or 0),
            int(match["minute"] or 0),
            int(match["second"] or 0),
            tzinfo=zone,
        )
    except ValueError:  # 2021/13/45, 25:00, a zone past ±24 hours
        return None
    return moment.astimezone(UTC)


def _zone(match: re.Match[str]) -> timezone:
    if not match["sign"]:
        return UTC
    offset = timedelta(hours=int(match["zh"]), minutes=int(match["zm"] or 0))
    return timezone(-offset if match["sign"] == "-" else offset)
