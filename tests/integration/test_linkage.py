"""Victim record linkage on the simulator: quality against its truth, NN bodies, incremental
runs, and the register in PostgreSQL feeding the reconciliation marts through dbt."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from bench.linkage import pairwise_scores, replicate, simulation_records
from observatorio.linkage.clusters import link_new_records, link_records
from observatorio.linkage.model import (
    _duckdb,
    _register,
    blocking_rules,
    linkage_database,
    unidentified_pairs,
)
from observatorio.linkage.records import (
    INPUT_COLUMNS,
    SOURCES,
    LinkageConfig,
    LinkageError,
    LinkageResult,
    TooLittleToTrain,
    classify_intent,
    prepare_records,
    take_text,
    unidentified_name_pseudonyms,
)
from observatorio.linkage.register import (
    LINKAGE_ROLE,
    MIN_TRAINING_RECORDS,
    review_list,
    update_register,
)
from simulator import generate


@pytest.fixture(scope="module")
def key() -> bytes:
    from observatorio.core.settings import get_settings

    return get_settings().pseudonym_key()


@pytest.fixture(scope="module")
def small_sim(tmp_path_factory) -> tuple[pd.DataFrame, pd.Series]:
    # Small scale, four months: ~1,100 records with every defect on, in about 2 s.
    out = tmp_path_factory.mktemp("sim-small")
    generate(out, seed=7, scale="small", start=date(2024, 1, 1), days=120)
    return simulation_records(out)


@pytest.fixture(scope="module")
def tiny_sim(tmp_path_factory) -> tuple[pd.DataFrame, pd.Series]:
    out = tmp_path_factory.mktemp("sim-tiny")
    generate(out, seed=42, scale="tiny", start=date(2024, 1, 1), days=365)
    return simulation_records(out)


@pytest.fixture(scope="module")
def small_result(small_sim, key) -> LinkageResult:
    records, _ = small_sim
    return link_records(records, unidentified_names=unidentified_name_pseudonyms(key))


def _victims_of(result: LinkageResult) -> pd.Series:
    return result.records.set_index("unique_id")["victim_id"]


def test_pairwise_precision_and_recall_meet_the_goal(small_sim, small_result):
    _, truth = small_sim
    scores = pairwise_scores(_victims_of(small_result), truth)
    assert scores["true_pairs"] > 1000
    assert scores["precision"] >= 0.99, scores
    assert scores["recall"] >= 0.98, scores


def test_tiny_scale_links_precisely(tiny_sim, key):
    records, truth = tiny_sim
    result = link_records(records, unidentified_names=unidentified_name_pseudonyms(key))
    scores = pairwise_scores(_victims_of(result), truth)
    # 87 true pairs: two NN late deaths (attack and death on different days) stay apart.
    assert scores["precision"] >= 0.99, scores
    assert scores["recall"] >= 0.97, scores


def test_a_victim_has_one_record_per_system_so_nn_bodies_never_merge(small_result):
    records = small_result.records
    per_system = records.groupby(["victim_id", "source_dataset"]).size()
    assert per_system.max() == 1
    bodies = records[records["is_unidentified"] & (records["source_dataset"] == "forensic")]
    assert len(bodies) > 5
    assert not bodies["victim_id"].duplicated().any()


def test_unidentified_records_link_only_with_evidence(small_result, small_sim):
    records = small_result.records.set_index("unique_id")
    links = small_result.links
    nn = records["is_unidentified"]
    touching = links[
        nn.reindex(links["unique_id_l"]).to_numpy() | nn.reindex(links["unique_id_r"]).to_numpy()
    ]
    assert len(touching) > 0
    for link in touching.itertuples():
        left, right = records.loc[link.unique_id_l], records.loc[link.unique_id_r]
        assert left["municipality_code"] == right["municipality_code"]
        if link.rule == "report_number":
            assert left["report_id"] == right["report_id"]
        else:
            assert abs(left["event_day"] - right["event_day"]) <= 1
    # And every one of them is right.
    _, truth = small_sim
    assert (
        truth.reindex(touching["unique_id_l"]).to_numpy()
        == truth.reindex(touching["unique_id_r"]).to_numpy()
    ).all()


def test_namesakes_of_other_years_stay_apart(small_sim, small_result, key):
    # Three years of the same country: new IDs and report numbers, the same names. The
    # bench measures a million records this way, so it must link each year like the first.
    records, truth = small_sim
    years, truth3 = replicate(records, truth, 3)
    assert len(years) == 3 * len(records)
    result = link_records(
        years,
        model=small_result.model,
        unidentified_names=unidentified_name_pseudonyms(key),
    )
    scores = pairwise_scores(_victims_of(result), truth3)
    assert scores["precision"] >= 0.99 and scores["recall"] >= 0.98, scores
    named = result.records.dropna(subset=["name_pseudonym"])
    copy_of = named["unique_id"].str.extract(r"^(copy\d+):")[0].fillna("copy0")
    namesakes = named.assign(copy=copy_of).groupby("name_pseudonym")["copy"].nunique()
    assert (namesakes == 3).sum() > 100
    spans = named.assign(copy=copy_of).groupby("victim_id")["copy"].nunique()
    assert spans.max() == 1
    # Unidentified bodies stay unidentified in every copy.
    assert (
        result.records["is_unidentified"].sum() == 3 * small_result.records["is_unidentified"].sum()
    )


def test_strict_policy_never_links_nn_to_nn(small_sim, key):
    records, _ = small_sim
    result = link_records(
        records,
        LinkageConfig(unidentified_policy="strict"),
        unidentified_names=unidentified_name_pseudonyms(key),
    )
    nn = result.records.set_index("unique_id")["is_unidentified"]
    both = (
        nn.reindex(result.links["unique_id_l"]).to_numpy()
        & nn.reindex(result.links["unique_id_r"]).to_numpy()
    )
    assert not both.any()


def test_two_nn_bodies_on_the_same_day_and_place_stay_unlinked():
    base = {
        "id_pseudonym": None,
        "name_pseudonym": None,
        "name_tokens": [],
        "sex": "M",
        "birth_year": None,
        "age": None,
        "event_date": date(2024, 3, 1),
        "municipality_code": "01001",
        "is_unidentified": True,
    }
    records = pd.DataFrame(
        [
            {
                **base,
                "unique_id": "police:1",
                "source_dataset": "police",
                "classification": "CP-121",
            },
            {
                **base,
                "unique_id": "forensic:1",
                "source_dataset": "forensic",
                "classification": "X95.4",
            },
            {
                **base,
                "unique_id": "forensic:2",
                "source_dataset": "forensic",
                "classification": "X99.4",
            },
        ]
    )
    prepared = prepare_records(records)
    links = unidentified_pairs(prepared, LinkageConfig())
    # Two bodies, one report: ambiguous, so no link at all.
    assert links.empty
    single = unidentified_pairs(prepared.iloc[:2], LinkageConfig())
    assert single[["unique_id_l", "unique_id_r"]].values.tolist() == [["forensic:1", "police:1"]]


def test_nn_records_without_a_report_number_share_no_report():
    # A forensic and a hospital NN, days and places apart, neither citing a police report:
    # a missing report number is not a shared one.
    base = {
        "id_pseudonym": None,
        "name_pseudonym": None,
        "name_tokens": [],
        "sex": "F",
        "birth_year": None,
        "age": 30,
        "is_unidentified": True,
        "report_id": None,
    }
    records = pd.DataFrame(
        [
            {
                **base,
                "unique_id": "forensic:1",
                "source_dataset": "forensic",
                "event_date": date(2024, 3, 1),
                "municipality_code": "01001",
                "classification": "X95.4",
            },
            {
                **base,
                "unique_id": "hospital:1",
                "source_dataset": "hospital",
                "event_date": date(2024, 7, 9),
                "municipality_code": "05005",
                "classification": "X99.4",
            },
        ]
    )
    prepared = prepare_records(records)
    assert unidentified_pairs(prepared, LinkageConfig()).empty


def test_blocking_pairs_one_victims_records_and_leaves_other_people_out():
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    start = date(2024, 3, 1)

    def record(
        uid: str, source: str, place: str, day: int, id_: str | None = None, name: str | None = None
    ) -> dict[str, object]:
        return {
            "unique_id": uid,
            "source_dataset": source,
            "id_pseudonym": id_,
            "name_pseudonym": name,
            "name_tokens": [f"{name}-a", f"{name}-b"] if name else [],
            "sex": "M",
            "birth_year": 1990,
            "age": None,
            "event_date": start + timedelta(days=day),
            "municipality_code": place,
            "classification": "CP-121",
            "is_unidentified": not (id_ or name),
        }

    records = pd.DataFrame(
        [
            # One victim, one ID, records 40 days apart: the ID rule.
            record("police:a", "police", "01001", 0, id_="ID-A", name="ana"),
            record("forensic:a", "forensic", "01001", 40, id_="ID-A", name="ana"),
            # No ID, a death 45 days after the attack: the name rule within its window.
            record("police:b", "police", "02002", 0, name="beto"),
            record("forensic:b", "forensic", "02002", 45, name="beto"),
            # A namesake 200 days later: too far for the name rules, another day.
            record("forensic:c", "forensic", "02002", 200, name="beto"),
            # Two people with their own IDs, same day and place: not candidates.
            record("police:d", "police", "03003", 5, id_="ID-D"),
            record("forensic:e", "forensic", "03003", 5, id_="ID-E"),
            # Two NN bodies, same day and place: the municipality + day rule.
            record("police:f", "police", "04004", 9),
            record("forensic:g", "forensic", "04004", 9),
        ]
    )
    prepared = prepare_records(records)
    frames = _register(_duckdb(), prepared, "block")
    counts = count_comparisons_from_blocking_rules(
        frames,
        blocking_rules=blocking_rules(),
        link_type="link_only",
        record_sample_proportion=1.0,
    )
    # One candidate per rule that should fire, none for the namesake or the two IDs: with
    # a year's name window and municipality + day for everyone there would be five.
    assert [c["marginal_comparison_count"] for c in counts] == [1, 0, 1, 1, 0]
    assert counts[-1]["cumulative_comparison_count"] == 3


def test_final_status_and_reasons(small_result):
    victims = small_result.victims.set_index("victim_id")
    statuses = set(victims["final_status"])
    assert {"confirmed_homicide", "homicide_single_source", "undetermined_intent"} <= statuses
    confirmed = victims[victims["final_status"] == "confirmed_homicide"]
    assert (confirmed["homicide_sources"] >= 2).all()
    no_autopsy = victims[victims["is_police_without_autopsy"]]
    assert (no_autopsy["has_police_record"] & ~no_autopsy["has_forensic_record"]).all()
    assert classify_intent("y87.1") == "homicide"
    assert classify_intent("Y35.0") == "legal_intervention"
    assert classify_intent("Y28") == "undetermined"
    assert classify_intent("CP-130") == "other"


def test_incremental_linking_matches_a_full_relink(small_sim, small_result, key):
    records, truth = small_sim
    names = unidentified_name_pseudonyms(key)
    model = small_result.model
    cut = pd.Timestamp("2024-03-15").date()
    first = records[pd.to_datetime(records["event_date"]).dt.date < cut]
    second = records[~records["unique_id"].isin(first["unique_id"])]
    assert len(first) > 300 and len(second) > 300
    initial = link_records(first, model=model, unidentified_names=names)
    stored = initial.records.loc[:, [*INPUT_COLUMNS, "report_id", "victim_id"]]
    incremental = link_new_records(stored, initial.links, records, model, unidentified_names=names)
    full = link_records(records, model=model, unidentified_names=names)
    # Existing victims keep their ids.
    kept = incremental.records.set_index("unique_id")["victim_id"].reindex(stored["unique_id"])
    assert (kept.to_numpy() == stored["victim_id"].to_numpy()).mean() > 0.99
    # Same partition as a full re-link with the same model, up to greedy order at most.
    agreement = pairwise_scores(_victims_of(incremental), _victims_of(full))
    assert agreement["f1"] >= 0.995, agreement
    assert pairwise_scores(_victims_of(incremental), truth)["recall"] >= 0.98


def test_register_in_postgres_feeds_the_reconciliation_marts(tiny_sim, settings, db, monkeypatch):
    records, _ = tiny_sim
    _publish_as_intermediate(db, records[pd.to_datetime(records["event_date"]).dt.month <= 8])
    # Least privilege (issue 17): record who linkage really connects as (a real connection).
    from observatorio.core import warehouse

    real_connect, roles_used = warehouse.connect, []

    def recording_connect(*args, **kwargs):  # type: ignore[no-untyped-def]
        roles_used.append(str(kwargs.get("role", warehouse.Role.OWNER)))
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(warehouse, "connect", recording_connect)
    first = update_register(settings)
    monkeypatch.setattr(warehouse, "connect", real_connect)
    assert roles_used == [str(LINKAGE_ROLE)]
    # Neither superuser nor owner of anything linkage writes, and unable to create in ops.
    role = str(LINKAGE_ROLE)
    assert db.execute(
        "select rolsuper or rolbypassrls or rolcreaterole or rolcreatedb"
        " from pg_roles where rolname = %s",
        (role,),
    ).fetchone() == (False,)
    owners = db.execute(
        "select distinct tableowner from pg_tables where schemaname = 'ops'"
        " and tablename like 'victim_%%'"
    ).fetchall()
    assert owners and role not in {o for (o,) in owners}
    assert db.execute("select has_schema_privilege(%s, 'ops', 'create')", (role,)).fetchone() == (
        False,
    )
    assert first["mode"] == "full" and first["records"] > 40
    _publish_as_intermediate(db, records)
    second = update_register(settings)
    assert second["mode"] == "incremental"
    assert second["new_records"] == len(records) - first["records"]
    stored = db.execute("select count(*) from ops.victim_register_records").fetchone()[0]
    victims = db.execute("select count(*) from ops.victim_register").fetchone()[0]
    assert stored == len(records) and victims == second["victims"]

    from observatorio.transform.dbt import run_dbt

    run_dbt(
        [
            "build",
            "--select",
            # The reconciliation marts, and the names the per-institution workbooks show.
            "tag:victim_register +dim_source_system +dim_municipality",
            # Only the tests whose every parent is built here.
            "--indirect-selection",
            "cautious",
            "--vars",
            "{victim_register: true}",
        ],
        settings,
    )
    homicides, police = db.execute(
        "select sum(reconciled_homicides), sum(police_records)"
        " from marts.mart_homicide_reconciliation"
    ).fetchone()
    expected = db.execute(
        "select count(*) from ops.victim_register"
        " where final_status in ('confirmed_homicide', 'homicide_single_source')"
    ).fetchone()[0]
    assert homicides == expected
    assert int(police) == int((records["source_dataset"] == "police").sum())
    _check_review_list(db, settings)


REVIEWED = ("confirmed_homicide", "homicide_single_source", "undetermined_intent")


def _check_review_list(db, settings) -> None:
    """The review list names, per institution, exactly the victims it is missing, and the
    extract for the inter-institutional table delivers it without person data."""
    register = pd.DataFrame(
        db.execute(
            "select victim_id, final_status, police_record_id, forensic_record_id,"
            " has_police_record, has_prosecution_record, has_forensic_record,"
            " has_hospital_record from ops.victim_register"
        ).fetchall(),
        columns=[
            "victim_id",
            "final_status",
            "police_record_id",
            "forensic_record_id",
            "has_police",
            "has_prosecution",
            "has_forensic",
            "has_hospital",
        ],
    ).set_index("victim_id")
    late = {
        row[0]
        for row in db.execute(
            "select victim_id from ops.victim_register_records group by victim_id having"
            " min(event_date) filter (where source_dataset = 'forensic') >"
            " min(event_date) filter (where source_dataset in ('police', 'prosecution'))"
        ).fetchall()
    }
    reviewed = register[register["final_status"].isin(REVIEWED)]
    sizes = {}
    for institution in SOURCES:
        listed = review_list(institution, db)
        expected = set(reviewed.index[~reviewed[f"has_{institution}"]])
        if institution == "hospital":
            expected &= late
        assert set(listed["victim_id"]) == expected, institution
        assert (listed["missing_institution"] == institution).all()
        assert listed[f"{institution}_record_key"].isna().all()
        assert not listed["systems"].str.contains(institution).any()
        sizes[institution] = len(listed)
        if institution == "police" and len(listed):
            # Other systems' own keys, without the register's `<system>:` prefix.
            keys = listed.set_index("victim_id")["forensic_record_key"].dropna()
            ids = register.loc[keys.index, "forensic_record_id"].str.removeprefix("forensic:")
            assert (keys == ids).all() and len(keys) > 0
    assert sizes["police"] > 0 and sizes["forensic"] > 0
    columns = {
        row[0]
        for row in db.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'marts' and table_name = 'mart_victim_review_list'"
        ).fetchall()
    }
    assert not {c for c in columns if "pseudonym" in c or "name" in c}, columns

    from openpyxl import load_workbook

    from observatorio.delivery.extracts import deliver

    # One workbook per institution, to that institution, with only its own record keys
    # (issue 17: one file with every institution's keys went to one recipient).
    key_columns = {
        "police": "police_record_key",
        "prosecution": "prosecution_record_key",
        "forensic": "forensic_record_key",
        "hospital": "hospital_record_key",
    }
    review = db.execute(
        f"select victim_id, missing_institution, {', '.join(key_columns.values())}"
        " from marts.mart_victim_review_list"
    ).fetchall()
    all_keys = {
        institution: {row[2 + n] for row in review if row[2 + n]}
        for n, institution in enumerate(key_columns)
    }
    recipients = set()
    # The workbook names institutions (the recipient reads names, never codes).
    named = dict(
        db.execute("select source_system_code, institution_es from marts.dim_source_system")
    )
    for institution in key_columns:
        delivery = deliver(f"mesa_interinstitucional__{institution}", settings=settings)
        assert delivery.suppressed_cells == 0
        recipients.add(delivery.spec.recipient)
        (path,) = delivery.folder.glob("*.xlsx")
        rows = list(load_workbook(path, read_only=True)["revision"].iter_rows(values_only=True))
        header = rows[0]
        # read-only sheets drop trailing empty cells: pad every row to the header.
        body = [(*r, *(None,) * (len(header) - len(r))) for r in rows[1:]]
        assert not {h for h in header if h and h.startswith("clave_") and h != "clave_propia"}
        own = header.index("clave_propia")
        delivered_keys = {r[own] for r in body if r[own]}
        assert {r[header.index("institucion")] for r in body} <= {named[institution]}
        # Every row it is missing, and each of its own keys on the list; nobody else's key.
        missing = [
            r for r in body if r[header.index("institucion_sin_registro")] == named[institution]
        ]
        assert len(missing) == sizes[institution], institution
        assert all(r[own] is None for r in missing)
        assert delivered_keys == all_keys[institution], institution
        others = set().union(*(k for i, k in all_keys.items() if i != institution))
        assert not delivered_keys & others
        text = " ".join(str(c) for r in body for c in r if c is not None)
        assert not any(k in text for k in others - all_keys[institution]), institution
    assert len(recipients) == 4 and "mesa_interinstitucional" not in recipients


def _publish_as_intermediate(db, records: pd.DataFrame) -> None:
    """Stand-in for dbt's int_homicide_victim_records, built from the simulator exports."""
    db.execute("create schema if not exists intermediate")
    # dbt may have built it as a view in this database already: drop whatever is there.
    kind = db.execute(
        "select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'intermediate' and c.relname = 'int_homicide_victim_records'"
    ).fetchone()
    if kind:
        relation = "view" if kind[0] == "v" else "table"
        db.execute(f"drop {relation} intermediate.int_homicide_victim_records cascade")
    db.execute(
        "create table intermediate.int_homicide_victim_records (unique_id text primary key,"
        " source_dataset text, id_pseudonym text, name_pseudonym text, name_tokens text[],"
        " sex text, birth_year integer, age integer, event_date date,"
        " municipality_code text, classification text, is_unidentified boolean,"
        " report_id text)"
    )
    # dbt's, as if dbt had built it: the transformer owns what the dbt schemas hold.
    db.execute(
        "alter table intermediate.int_homicide_victim_records owner to observatorio_transformer"
    )
    columns = [*INPUT_COLUMNS, "report_id"]
    with db.cursor().copy(
        f"copy intermediate.int_homicide_victim_records ({', '.join(columns)}) from stdin"
    ) as copy:
        for row in records.loc[:, columns].itertuples(index=False, name=None):
            copy.write_row([_plain(v) for v in row])


def _plain(value):
    if isinstance(value, list):
        return value
    if pd.isna(value):
        return None
    return int(value) if isinstance(value, float) else value


def test_invalid_input_names_the_column():
    frame = pd.DataFrame([{c: None for c in INPUT_COLUMNS}])
    frame["unique_id"] = "x:1"
    frame["source_dataset"] = "court"
    with pytest.raises(LinkageError, match="source_dataset"):
        prepare_records(frame)


def test_records_of_one_system_leave_the_register_unchanged(tiny_sim, key, settings, db):
    # The first source of a deployment to publish (police) triggers a build on its own.
    records, _ = tiny_sim
    police = records[records["source_dataset"] == "police"].reset_index(drop=True)
    with pytest.raises(TooLittleToTrain, match="at least two systems"):
        link_records(police, unidentified_names=unidentified_name_pseudonyms(key))
    db.execute("truncate ops.victim_register_records, ops.victim_register")
    _publish_as_intermediate(db, police)
    summary = update_register(settings)
    assert summary["mode"] == "skipped" and summary["records"] == len(police)
    assert summary["victims"] == 0  # the register's victims, none yet
    assert db.execute("select count(*) from ops.victim_register").fetchone()[0] == 0


def test_a_month_too_sparse_for_em_leaves_the_register_unchanged(tmp_path, settings, db, key):
    # The first month of the small country: enough records, but EM sees no true match at
    # some comparison level and cannot estimate it. The task must not fail the build.
    out = tmp_path / "sim"
    generate(out, seed=3, scale="small", start=date(2024, 1, 1), days=31)
    records, _ = simulation_records(out)
    assert len(records) >= MIN_TRAINING_RECORDS
    with pytest.raises(TooLittleToTrain, match="EM could not estimate"):
        link_records(records, unidentified_names=unidentified_name_pseudonyms(key))
    db.execute("truncate ops.victim_register_records, ops.victim_register")
    _publish_as_intermediate(db, records)
    summary = update_register(settings)
    assert summary["mode"] == "skipped" and summary["records"] == len(records)
    assert db.execute("select count(*) from ops.victim_register").fetchone()[0] == 0


def test_duckdb_memory_is_the_setting_and_its_spill_goes_with_the_run(monkeypatch):
    import duckdb

    from observatorio.core.settings import SettingsError

    monkeypatch.setenv("OBSERVATORIO_LINKAGE_MEMORY_LIMIT", "300MB")
    expected = duckdb.connect(config={"memory_limit": "300MB"}).sql(
        "select current_setting('memory_limit')"
    )
    with linkage_database() as connection:
        limit = connection.sql("select current_setting('memory_limit')").fetchall()
        spill = Path(connection.sql("select current_setting('temp_directory')").fetchall()[0][0])
        assert limit == expected.fetchall()
        # Spilling lands in the run's own directory, which leaves with the run.
        connection.sql("create table t as select range as i from range(10)")
        assert spill.parent.exists()
    assert not spill.parent.exists()
    monkeypatch.setenv("OBSERVATORIO_LINKAGE_MEMORY_LIMIT", "lots")
    with (
        pytest.raises(SettingsError, match="OBSERVATORIO_LINKAGE_MEMORY_LIMIT"),
        linkage_database(),
    ):
        pass


def test_text_taken_from_a_chunked_column_keeps_each_value_and_its_place():
    # A column read in batches is many Arrow chunks: each position keeps its own value,
    # -1 and nulls come back missing, the order of `rows` is kept, repeats included.
    import numpy as np
    import pyarrow as pa

    chunks = [["a", "b", None], ["c"], [], ["d", "e"]]
    column = pd.Series(
        pd.array(pa.chunked_array(chunks, type=pa.large_string()), dtype="str"), dtype="str"
    )
    assert pa.array(column.array).num_chunks == len(chunks)
    flat = [value for chunk in chunks for value in chunk]
    rows = np.array([5, -1, 0, 2, 3, 0, 4, 1])
    taken = take_text(column, rows)
    assert str(taken.dtype) == "str"
    assert [None if pd.isna(v) else v for v in taken] == [
        None if row < 0 else flat[row] for row in rows
    ]
    assert len(take_text(column, np.array([], dtype=np.int64))) == 0
