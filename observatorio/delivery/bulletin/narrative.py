"""The short text under each panel, written from its numbers: the latest value, what rose or
fell and by how much against the previous month and the same month a year before."""

from __future__ import annotations

from observatorio.delivery.bulletin.indicators import month_shift
from observatorio.delivery.bulletin.labels import (
    DASH,
    MINUS,
    number,
    percent,
    period_words,
    unit_words,
)
from observatorio.delivery.bulletin.series import Line, Point
from observatorio.indicators.definitions import Indicator


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _format(ind: Indicator, value: float) -> str:
    if ind.unit == "share":
        return percent(value)
    decimals = ind.publication.decimals
    if ind.unit == "count":
        return number(value)
    return f"{number(value, decimals)} {unit_words(ind)}"


def _difference(ind: Indicator, now: float, before: float) -> str:
    if ind.unit == "share":
        points = 100 * (now - before)
        if abs(points) < 0.05:
            return "sin cambios"
        word = "más" if points > 0 else "menos"
        return f"{number(abs(points), 1)} puntos porcentuales {word}"
    delta = now - before
    decimals = 0 if ind.unit == "count" else ind.publication.decimals
    if round(delta, decimals) == 0:
        return "sin cambios"
    word = "más" if delta > 0 else "menos"
    relative = (
        f" ({'+' if delta > 0 else MINUS}{number(abs(delta) / before * 100, 1)} %)"
        if before
        else ""
    )
    return f"{number(abs(delta), decimals)} {word}{relative}"


def _comparison(ind: Indicator, now: Point, before: Point | None, when: str) -> str | None:
    if before is None or before.value is None or now.value is None:
        return None
    change = _difference(ind, now.value, before.value)
    if change == "sin cambios":
        return f"sin cambios respecto a {when}"
    return f"{change} que en {when}"


def describe(line: Line, period: str, marker: str) -> str:
    """One or two sentences on the series at `period`."""
    ind = line.definition
    subject = _lower_first(ind.name_es)
    now = line.at(period)
    when = period_words(period)
    if now is None:
        return f"Sin datos de {subject} en {when}."
    if now.suppressed or now.value is None:
        return (
            f"{ind.name_es} en {when}: no se publica ({marker}), porque la cifra es pequeña "
            "y podría identificar a personas."
        )
    text = f"En {when}, {subject}: {_format(ind, now.value)}"
    if now.lower is not None and now.upper is not None:
        text += f" (IC 95 %: {number(now.lower, ind.publication.decimals)}{DASH}"
        text += f"{number(now.upper, ind.publication.decimals)})"
    parts = [
        _comparison(
            ind, now, line.at(month_shift(period, -1)), period_words(month_shift(period, -1))
        ),
        _comparison(
            ind, now, line.at(month_shift(period, -12)), period_words(month_shift(period, -12))
        ),
    ]
    said = [p for p in parts if p]
    text += "; " + " y ".join(said) + "." if said else "."
    if now.unstable:
        text += (
            f" Tasa inestable: descansa en menos de {ind.publication.min_stable_numerator} casos."
        )
    return text
