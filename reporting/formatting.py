"""Numbers, money, percentages and dates written for the reader's language (French: 1 234,56 €, 12,5 %)."""

import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import formats
from django.utils.translation import get_language

NBSP = "\u00a0"
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF"}


def _french() -> bool:
    return (get_language() or "en").startswith("fr")


def _rounded(value: Any, places: int) -> Decimal:
    # Django's number_format cuts the extra decimals off: round half up first (2/3 is 66.7 %, not 66.6 %).
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def number(value: Any, places: int = 0) -> str:
    if value is None:
        return "–"
    text = formats.number_format(_rounded(value, places), places, use_l10n=True, force_grouping=True)
    # Django writes French thousands with a narrow no-break space: keep it no-break whatever the font.
    return text.replace(" ", NBSP)


def money(value: Any, currency: str = "EUR") -> str:
    if value is None:
        return "–"
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    amount = number(value, 2)
    if _french() or symbol == currency:
        return f"{amount}{NBSP}{symbol}"
    return f"-{symbol}{amount[1:]}" if amount.startswith("-") else f"{symbol}{amount}"


def percent(ratio: Any, places: int = 1) -> str:
    if ratio is None:
        return "–"
    text = number(Decimal(str(ratio)) * 100, places)
    return f"{text}{NBSP}%" if _french() else f"{text}%"


def day(value: datetime.date | None) -> str:
    return formats.date_format(value, "SHORT_DATE_FORMAT", use_l10n=True) if value else "–"


def cell(value: Any, kind: str, currency: str = "EUR") -> str:
    """A table cell as the reader sees it."""
    if kind == "money":
        return money(value, currency)
    if kind == "percent":
        return percent(value)
    if kind == "int":
        return number(value, 0)
    if kind == "float":
        return number(value, 2)
    if kind == "ratio":
        return number(value, 4)
    if kind == "date":
        return day(value)
    return "–" if value is None else str(value)


def csv_value(value: Any, kind: str) -> str:
    """A CSV cell: no thousands separator, the language's decimal mark (Excel reads it in that language)."""
    if value is None:
        return ""
    if kind in ("money", "float", "ratio", "percent", "int"):
        places = {"money": 2, "float": 2, "ratio": 4, "percent": 4, "int": 0}[kind]
        return formats.number_format(_rounded(value, places), places, use_l10n=True, force_grouping=False)
    if kind == "date":
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
    return str(value)
