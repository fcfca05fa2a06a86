from __future__ import annotations

import random
from datetime import date

import pytest

from simulator.world import (
    PersonFactory,
    age_group,
    age_on,
    is_valid_national_id,
    national_id_check_digit,
    national_id_for,
    with_typo,
)


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        # weights 2,3,4,5,6,7,2,3,4 from the right; 11 - sum % 11, 10 -> K, 11 -> 0
        ("104583726", "9"),  # sum 156 -> r 2 -> 9
        ("000000000", "0"),  # sum 0 -> 11 -> 0
        ("000000005", "1"),  # sum 10 -> 1
        ("000000001", "9"),  # sum 2 -> 9
        ("000000006", "K"),  # sum 12 -> r 1 -> 10 -> K
    ],
)
def test_check_digit_known_values(digits: str, expected: str) -> None:
    assert national_id_check_digit(digits) == expected


def test_check_digit_rejects_malformed_input() -> None:
    with pytest.raises(ValueError, match="9 digits"):
        national_id_check_digit("12345")


def test_validation_accepts_generated_and_rejects_altered_ids() -> None:
    ids = [national_id_for(i, 12_345) for i in range(2_000)]
    assert len(set(ids)) == len(ids)
    assert all(is_valid_national_id(i) for i in ids)
    assert is_valid_national_id(ids[0].lower())
    for bad in ("", "123456789", "12345678-9", "1234567890-1", "abcdefghi-1"):
        assert not is_valid_national_id(bad)
    altered = [f"{i[:8]}{(int(i[8]) + 1) % 10}{i[9:]}" for i in ids]
    # One changed digit always changes the mod-11 check value.
    assert not any(is_valid_national_id(a) for a in altered)


def test_persons_have_the_requested_age() -> None:
    factory = PersonFactory(random.Random(3), seed=3)
    day = date(2024, 2, 29)
    for age in range(0, 96):
        person = factory.create("F", age, day)
        assert age_on(person.birth_date, day) == age


def test_age_groups() -> None:
    assert age_group(0) == "00-04"
    assert age_group(34) == "30-34"
    assert age_group(79) == "75-79"
    assert age_group(101) == "80+"


def test_typo_always_changes_the_name() -> None:
    rng = random.Random(5)
    for name in ("María Pérez López", "Juan Ruiz Silva", "Ana Vega Ríos") * 50:
        assert with_typo(name, rng) != name
