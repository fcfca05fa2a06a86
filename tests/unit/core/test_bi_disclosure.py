"""The `bi` schema suppresses small counts with the extracts' threshold, and BI logins are
declared in one file whose mistakes are refused before any role is made."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from observatorio.core.recipients import RecipientError, load_logins
from observatorio.core.settings import PROJECT_DIR
from observatorio.delivery.disclosure import DEFAULT_THRESHOLD
from observatorio.indicators.definitions import publication_defaults


def test_bi_suppresses_with_the_extracts_threshold():
    # `bi` takes the country's min_cell_size from the definitions (macro publication_rules),
    # as the extracts do (disclosure.publication_rules): no dbt var repeats it, and tables
    # built by hand default to the project's.
    project = yaml.safe_load((PROJECT_DIR / "dbt_project" / "dbt_project.yml").read_text())
    assert "disclosure_threshold" not in project["vars"]
    assert publication_defaults(country={})["min_cell_size"] == DEFAULT_THRESHOLD


def test_declared_logins_are_national_or_one_department():
    logins = {item.login: item.department_code for item in load_logins()}
    assert None in logins.values()
    assert any(code is not None for code in logins.values())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"login": "observatorio_owner", "scope": "national"}, "must be"),
        ({"login": "x", "scope": "national"}, "must be"),
        ({"login": "bi_both", "scope": "national", "department_code": "01"}, "either"),
        ({"login": "bi_neither"}, "either"),
        ({"login": "bi_bad", "department_code": "Central"}, "two digits"),
    ],
)
def test_a_wrong_login_is_refused_with_its_reason(
    tmp_path: Path, entry: dict[str, str], message: str
):
    path = tmp_path / "logins.yaml"
    path.write_text(yaml.safe_dump({"logins": [entry]}))
    with pytest.raises(RecipientError, match=message):
        load_logins(path)
