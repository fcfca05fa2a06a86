"""Persons of the fictional country: national ID numbers, names, sexes and birth dates.

National ID ("cédula"): 9 digits, a hyphen and one check character, e.g. ``104583726-3``.
The check character is computed with modulus 11 over the 9 digits:

1. weight the digits from the rightmost with 2, 3, 4, 5, 6, 7, 2, 3, 4;
2. add the products and take the remainder ``r`` of the sum divided by 11;
3. ``11 - r`` is the check value: 11 is written ``0``, 10 is written ``K``, others as the digit.

The ingestion layer verifies IDs with ``is_valid_national_id``. Names are drawn from short lists
of common Spanish given names and surnames; every person is synthetic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from simulator.reference import AGE_GROUPS

_WEIGHTS = (2, 3, 4, 5, 6, 7, 2, 3, 4)
# ID numbers are a permutation of a counter, so they are unique without remembering them.
_ID_SPACE = 900_000_000
_ID_MULTIPLIER = 611_953  # coprime with the space (not divisible by 2, 3 or 5)

GIVEN_NAMES_F: tuple[str, ...] = (
    "María",
    "Ana",
    "Lucía",
    "Carmen",
    "Rosa",
    "Sofía",
    "Valentina",
    "Camila",
    "Isabel",
    "Patricia",
    "Laura",
    "Elena",
    "Gabriela",
    "Daniela",
    "Andrea",
    "Verónica",
    "Marta",
    "Julia",
    "Paula",
    "Claudia",
    "Teresa",
    "Beatriz",
    "Natalia",
    "Mónica",
)
GIVEN_NAMES_M: tuple[str, ...] = (
    "José",
    "Juan",
    "Carlos",
    "Luis",
    "Jorge",
    "Miguel",
    "Pedro",
    "Manuel",
    "Francisco",
    "Antonio",
    "Javier",
    "Andrés",
    "Diego",
    "Fernando",
    "Ricardo",
    "Raúl",
    "Sergio",
    "Pablo",
    "Alejandro",
    "Mario",
    "Roberto",
    "Héctor",
    "Óscar",
    "Víctor",
)
SURNAMES: tuple[str, ...] = (
    "García",
    "Rodríguez",
    "González",
    "Fernández",
    "López",
    "Martínez",
    "Sánchez",
    "Pérez",
    "Gómez",
    "Díaz",
    "Hernández",
    "Álvarez",
    "Jiménez",
    "Ruiz",
    "Moreno",
    "Muñoz",
    "Romero",
    "Torres",
    "Ramírez",
    "Flores",
    "Castro",
    "Vargas",
    "Rojas",
    "Morales",
    "Ortiz",
    "Silva",
    "Núñez",
    "Mendoza",
    "Reyes",
    "Herrera",
    "Medina",
    "Aguilar",
    "Vega",
    "Campos",
    "Ríos",
    "Cabrera",
    "Salazar",
    "Paredes",
    "Cordero",
    "Ibáñez",
)


def national_id_check_digit(digits: str) -> str:
    """The check character (``0``-``9`` or ``K``) of a 9-digit national ID number."""
    if len(digits) != 9 or not digits.isdigit():
        raise ValueError(f"national ID number must be 9 digits, got {digits!r}")
    total = sum(int(d) * w for d, w in zip(reversed(digits), _WEIGHTS, strict=True))
    value = 11 - total % 11
    if value == 11:
        return "0"
    if value == 10:
        return "K"
    return str(value)


def is_valid_national_id(national_id: str) -> bool:
    """True for ``NNNNNNNNN-C`` where C is the correct check character (``k`` accepted)."""
    number, sep, check = national_id.strip().partition("-")
    if sep != "-" or len(number) != 9 or not number.isdigit() or len(check) != 1:
        return False
    return national_id_check_digit(number) == check.upper()


def national_id_for(index: int, offset: int) -> str:
    """The national ID of the ``index``-th person of a run (``offset`` comes from the seed)."""
    number = 100_000_000 + (index * _ID_MULTIPLIER + offset) % _ID_SPACE
    digits = str(number)
    return f"{digits}-{national_id_check_digit(digits)}"


def age_group(age: int) -> str:
    """The 5-year age group label (``00-04`` .. ``80+``) of an age in years."""
    return AGE_GROUPS[min(age // 5, len(AGE_GROUPS) - 1)]


def age_on(birth: date, day: date) -> int:
    """Completed years of age on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Person:
    """A synthetic resident."""

    national_id: str
    given_name: str
    surname1: str
    surname2: str
    sex: str  # "M" or "F"
    birth_date: date

    @property
    def full_name(self) -> str:
        """Name as registries write it: given name and both surnames."""
        return f"{self.given_name} {self.surname1} {self.surname2}"


class PersonFactory:
    """Creates persons with unique national IDs, deterministically from one RNG."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        self._rng = rng
        self._offset = (seed * 7_919 + 12_345) % _ID_SPACE
        self._count = 0

    def create(self, sex: str, age: int, on: date) -> Person:
        """A new person of ``sex`` who is ``age`` completed years old on ``on``."""
        rng = self._rng
        given = rng.choice(GIVEN_NAMES_F if sex == "F" else GIVEN_NAMES_M)
        # Born up to 364 days before the day that makes the person exactly ``age`` on ``on``.
        birth = _shift_years(on, -age) - timedelta(days=rng.randrange(0, 365))
        if age_on(birth, on) != age:
            birth = _shift_years(on, -age)
        person = Person(
            national_id=national_id_for(self._count, self._offset),
            given_name=given,
            surname1=rng.choice(SURNAMES),
            surname2=rng.choice(SURNAMES),
            sex=sex,
            birth_date=birth,
        )
        self._count += 1
        return person


def _shift_years(day: date, years: int) -> date:
    """``day`` moved by whole years (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


_ACCENT_DROPS = str.maketrans("áéíóúÁÉÍÓÚñÑ", "aeiouAEIOUnN")


def with_typo(name: str, rng: random.Random) -> str:
    """``name`` with one clerical typo: swapped letters, a dropped letter or a lost accent."""
    kind = rng.randrange(3)
    stripped = name.translate(_ACCENT_DROPS)
    if kind == 0 and stripped != name:
        return stripped
    letters = [i for i, ch in enumerate(name[:-1]) if ch.isalpha() and name[i + 1].isalpha()]
    if not letters:
        return name + name[-1]
    i = rng.choice(letters)
    if kind == 1 and name[i] != name[i + 1]:
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    return name[:i] + name[i + 1 :]
