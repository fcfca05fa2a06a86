"""What a contract says about one cell before it is typed: normalise, nulls, maps, decoders.

A column may declare, in this order of application: `normalise` steps (left-pad, strip a
suffix, take a substring, upper-case, strip accents), `nulls` (tokens that mean "no
value"), a value `map` (codes to values; a code outside it is quarantined), a named
`decoder` (codings that need arithmetic, such as DATASUS's IDADE), and for numbers a
`numeric` style (thousands and decimal separators). Each step either returns the cell's
new text or a reason that sends the record to quarantine: a value is never reinterpreted.

Both parsers call `prepare`: the row parser once per cell, the columnar path once per
distinct value of a batch (`prepare_array`). Strict date layouts (`fixed_layout`) live
here too, so a date that lost a leading zero never reaches `strptime`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contract import Column, NumericStyle
from ingestion.decoders import DECODERS

# --- named decoders ------------------------------------------------------------------


# --- strict numbers and dates ---------------------------------------------------------

_PLAIN_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_PLAIN_DECIMAL = re.compile(r"^[+-]?[0-9]+(?:\.[0-9]+)?$")


def plain_integer(text: str) -> bool:
    """Digits with an optional sign: what an integer cell must be once styled."""
    return bool(_PLAIN_INTEGER.match(text))


def plain_decimal(text: str) -> bool:
    """`1234.5` with an optional sign: what a numeric cell must be once styled."""
    return bool(_PLAIN_DECIMAL.match(text))


@cache
def _style_pattern(style: NumericStyle) -> re.Pattern[str]:
    t, d = re.escape(style.thousands or ""), re.escape(style.decimal)
    whole = rf"(?:[0-9]{{1,3}}(?:{t}[0-9]{{3}})+|[0-9]+)" if style.thousands else "[0-9]+"
    return re.compile(rf"^[+-]?{whole}(?:{d}(?P<fraction>[0-9]+))?$")


def apply_style(style: NumericStyle, text: str) -> tuple[str, str | None]:
    """`text` in the declared style as `1234.5`, or a reason it does not fit the style."""
    match = _style_pattern(style).match(text)
    if match is None:
        return "", f"does not fit the number style {style.example}"
    fraction = match.group("fraction")
    if fraction is not None:
        if style.decimals is not None and len(fraction) > style.decimals:
            return "", f"more than {style.decimals} decimals (number style {style.example})"
        if (
            style.decimals is None
            and style.thousands
            and len(fraction) == 3
            and style.thousands not in text
        ):
            # `1,234` under `1.234,5` may be a thousands group written in the other style:
            # declare `decimals` to say how many decimals the source writes.
            return "", f"ambiguous under the number style {style.example} (3 decimals)"
    if style.thousands:
        text = text.replace(style.thousands, "")
    return text.replace(style.decimal, "."), None


# Fixed-width strptime directives (their zero-padded form) as ASCII regexes; formats made
# only of these and plain literals must match exactly, character for character.
DIRECTIVES: dict[str, tuple[str, int]] = {
    "%d": ("(?:0[1-9]|[12][0-9]|3[01])", 2),
    "%m": ("(?:0[1-9]|1[0-2])", 2),
    "%Y": ("[1-9][0-9]{3}", 4),
    "%H": ("(?:[01][0-9]|2[0-3])", 2),
    "%M": ("[0-5][0-9]", 2),
    "%S": ("[0-5][0-9]", 2),
}


@cache
def fixed_layout(fmt: str) -> tuple[str, int | None] | None:
    """An anchored regex for the zero-padded form of `fmt`, and where its day sits."""
    parts: list[str] = []
    position = 0
    day_at: int | None = None
    i = 0
    while i < len(fmt):
        token = fmt[i : i + 2]
        if fmt[i] == "%":
            if token not in DIRECTIVES:
                return None
            pattern, width = DIRECTIVES[token]
            if token == "%d":
                day_at = position
            parts.append(pattern)
            position += width
            i += 2
            continue
        if fmt[i] != " " and (fmt[i].isspace() or not fmt[i].isascii()):
            return None
        # A space in a strptime format matches any run of whitespace; one space is the
        # zero-padded form (others go to Python).
        parts.append(" " if fmt[i] == " " else re.escape(fmt[i]))
        position += 1
        i += 1
    return "^" + "".join(parts) + "$", day_at


@cache
def strict_date_pattern(fmt: str) -> re.Pattern[str] | None:
    """The exact shape a value of a fixed-width date format must have (None: not fixed)."""
    layout = fixed_layout(fmt)
    return re.compile(layout[0]) if layout is not None else None


# --- the per-cell pipeline -----------------------------------------------------------


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _normalised(column: Column, text: str) -> str:
    for step, argument in column.normalise:
        if step == "pad_left":
            text = text.rjust(int(argument), "0") if text else text
        elif step == "strip_suffix":
            text = text.removesuffix(str(argument))
        elif step == "substring":
            start, end = argument
            text = text[start:end]
        elif step == "upper":
            text = text.upper()
        elif step == "strip_accents":
            text = _strip_accents(text)
        elif step == "strip":
            text = text.strip()
    return text


def has_rules(column: Column) -> bool:
    """Whether the column declares anything `prepare` does (else cells go through as read)."""
    return bool(
        column.normalise
        or column.nulls
        or column.value_map is not None
        or column.decoder
        or column.numeric is not None
    )


def prepare(column: Column, text: str) -> tuple[str, str | None]:
    """The cell's text after the column's rules ("" is null), or a reason to quarantine."""
    text = _normalised(column, text)
    if text in column.nulls:
        return "", None
    if column.value_map is not None and text != "":
        if text not in column.value_map:
            return "", f"not one of the mapped codes {sorted(column.value_map)}"
        text = column.value_map[text] or ""
    if column.decoder and text != "":
        try:
            text = DECODERS[column.decoder](text) or ""
        except ValueError as exc:
            return "", f"cannot be decoded by {column.decoder}: {exc}"
    if column.numeric is not None and text != "":
        return apply_style(column.numeric, text)
    return text, None


def prepare_array(column: Column, values: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """`prepare` for a whole array: once per distinct value, then taken back to rows."""
    encoded = pc.dictionary_encode(values)
    texts: list[str] = []
    reasons: list[str | None] = []
    for value in encoded.dictionary.to_pylist():
        text, reason = prepare(column, value)
        texts.append(text)
        reasons.append(reason)
    indices = encoded.indices
    prepared = pc.take(pa.array(texts, pa.string()), indices)
    if all(r is None for r in reasons):
        return prepared, None
    return prepared, pc.take(pa.array(reasons, pa.string()), indices)
