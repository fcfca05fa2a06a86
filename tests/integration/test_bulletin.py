"""The monthly bulletin from an indicator table with the mart's exact column set: charts drawn
only from existing data, disclosure control on its numbers, a PDF that renders (pdftoppm), and
the deliver_extracts DAG (one task per spec plus the bulletin) run with dag.test()."""

from __future__ import annotations

import csv
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from observatorio.delivery.bulletin import BulletinError, publish_bulletin
from observatorio.delivery.bulletin.labels import day_words, internal_codes
from tests.integration.test_extracts import build_police_marts

TABLE = "bulletin_test.mart_indicators_monthly"
ARTIFACT = Path(__file__).parents[1] / "artifacts" / "bulletin.png"
# The rendered pages, for the issue note (outside the repository).
PAGES = Path("/tmp/bulletin_pages")
MONTHS = [f"2025-{m:02d}" for m in range(5, 11)]
MUNICIPALITIES = [f"0{d}0{m:02d}" for d in (1, 2) for m in range(1, 7)]
TINY = "02006"  # one homicide a month in a small town: its rate must never be shown


def _rows() -> list[tuple]:
    """Indicators in the mart's long shape: counts, rates, shares, a funnel, priorities."""
    rng = random.Random(8)
    rows = []
    for month_index, month in enumerate(MONTHS):
        for muni in MUNICIPALITIES:
            population = 2_000 if muni == TINY else rng.randint(40_000, 400_000)
            women = population // 2
            police = 1 if muni == TINY else rng.randint(3, 40)
            health = police if muni == TINY else police + rng.randint(0, 4)
            reconciled = police if muni == TINY else max(police, health) + rng.randint(0, 2)
            femicides = rng.randint(0, 1)
            intrafamily = rng.randint(5, 80)

            def add(code, numerator, denominator, value, source, muni=muni, month=month):
                rows.append(
                    (code, muni, month, "all", "all", numerator, denominator, value, source)
                )

            add("homicide_count_police", police, None, police, "police")
            add("homicide_count_health", health, None, health, "health")
            add("homicide_reconciled", reconciled, None, reconciled, "reconciled")
            add("femicide_count", femicides, None, femicides, "police")
            for code, count, source in (
                ("homicide_rate_police", police, "police"),
                ("homicide_rate_health", health, "health"),
                ("homicide_rate_reconciled", reconciled, "reconciled"),
            ):
                add(code, count, population, count * 100_000 / population, source)
            add("femicide_rate", femicides, women, femicides * 100_000 / women, "police")
            add(
                "intrafamily_violence_rate",
                intrafamily,
                population,
                intrafamily * 100_000 / population,
                "police",
            )
            for stage, share in (("reports", 1.0), ("cases", 0.6), ("indictments", 0.25)):
                add(
                    f"justice_funnel_{stage}",
                    int(200 * share) + month_index,
                    None,
                    int(200 * share) + month_index,
                    "justice",
                )
            add("justice_funnel_convictions", 3, None, 3, "justice")  # small everywhere
            for crime, reported in DARK_FIGURES:
                victims = rng.randint(200, 400)
                got = int(victims * reported)
                add(f"dark_figure__{crime}", got, victims, 1 - got / victims, "survey")
            add("reporting_coverage_share", 3, 3, 1.0, "police+health+justice")
    return rows


DARK_FIGURES = (("robbery", 0.4), ("theft", 0.3), ("extortion", 0.1))
# Unweighted victims the survey asked, per crime type: extortion's 12 are too few to publish.
RESPONDENTS = {"robbery": 150, "theft": 90, "extortion": 12}
SEED = Path(__file__).parents[2] / "dbt_project" / "seeds" / "ref_municipalities.csv"
AS_OF = "2025-11-03 10:00:00+00"
# The marts the bulletin reads beside the indicator table: the justice funnel's national
# medians and the citizens' priorities with their indicators' trends.
ATTRITION = [("2025-10", "national", 5.0, 103.5, 191.5)]
PRIORITIES = [
    (1, "Homicidios", 0.41, 1230, "homicide_rate_reconciled", "down"),
    (2, "Robos", 0.33, 990, "adjusted_incidence_rate__robbery", "up"),
    (3, "Violencia intrafamiliar", 0.26, 780, "intrafamily_violence_rate", "flat"),
]


@pytest.fixture
def indicators(db):
    db.execute("drop schema if exists bulletin_test cascade")
    db.execute("create schema bulletin_test")
    db.execute(
        f"create table {TABLE} (indicator_code text, municipality_code text, month text,"
        " sex text, age_group text, numerator numeric, denominator numeric, value numeric,"
        " source text)"
    )
    with db.cursor() as cursor:
        cursor.executemany(
            f"insert into {TABLE} values (%s, %s, %s, %s, %s, %s, %s, %s, %s)", _rows()
        )
    db.execute(
        "create table bulletin_test.mart_justice_attrition (month text, area_level text,"
        " median_days_report_to_case numeric, median_days_case_to_indictment numeric,"
        " median_days_indictment_to_judgement numeric)"
    )
    db.execute(
        "create table bulletin_test.mart_consultation_priorities (priority_rank integer,"
        " topic_label text, vote_share numeric, votes bigint, indicator_code text, trend text)"
    )
    with db.cursor() as cursor:
        cursor.executemany(
            "insert into bulletin_test.mart_justice_attrition values (%s, %s, %s, %s, %s)",
            ATTRITION,
        )
        cursor.executemany(
            "insert into bulletin_test.mart_consultation_priorities"
            " values (%s, %s, %s, %s, %s, %s)",
            PRIORITIES,
        )
    db.execute(
        "create table bulletin_test.dim_municipality (municipality_code text,"
        " municipality_name text)"
    )
    with SEED.open(encoding="utf-8", newline="") as handle, db.cursor() as cursor:
        cursor.executemany(
            "insert into bulletin_test.dim_municipality values (%s, %s)",
            [(r["municipality_code"], r["municipality_name"]) for r in csv.DictReader(handle)],
        )
    db.execute(
        "create table bulletin_test.fct_indicator_contributions (indicator_code text,"
        " month text, counted_id text, denominator_weight numeric)"
    )
    with db.cursor() as cursor:
        cursor.executemany(
            "insert into bulletin_test.fct_indicator_contributions values (%s, %s, %s, 1.5)",
            [
                (f"dark_figure__{crime}", month, f"r{k}")
                for crime, n in RESPONDENTS.items()
                for month in MONTHS
                for k in range(n)
            ],
        )
    # The data cut-off: the last batch loaded.
    db.execute(
        "insert into ops.batch_ledger (batch_id, source, status, finished_at)"
        " values ('bulletin-test', 'police', 'loaded', %s)",
        (AS_OF,),
    )
    # The bulletin reads as the delivery role, as it reads the marts.
    db.execute("grant usage on schema bulletin_test to observatorio_delivery")
    db.execute("grant select on all tables in schema bulletin_test to observatorio_delivery")
    yield TABLE
    db.execute("drop schema bulletin_test cascade")
    db.execute("delete from ops.batch_ledger where batch_id = 'bulletin-test'")


def _png(pdf: Path, out: Path) -> Path:
    assert shutil.which("pdftoppm"), "pdftoppm is missing: .ci/run installs poppler-utils"
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf),
            str(out.with_suffix("")),
        ],
        check=True,
    )
    return out


def _assert_not_blank(path: Path) -> None:
    from PIL import Image

    image = Image.open(path).convert("L")
    low, high = image.getextrema()
    assert high - low > 100, "the page is blank"
    dark = sum(1 for p in image.getdata() if p < 128)
    assert dark > 0.005 * image.width * image.height


def _pages(pdf: Path) -> list[str]:
    """The PDF's text, page by page (pdftotext separates pages with a form feed)."""
    assert shutil.which("pdftotext"), "pdftotext is missing: .ci/run installs poppler-utils"
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    return text.split("\f")


def _codes_shown(text: str) -> list[str]:
    """Internal codes (from the definitions) and raw ISO dates that appear in `text`."""
    found = [c for c in internal_codes() if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text)]
    found += re.findall(r"\b\d{4}-\d{2}(?:-\d{2})?(?:T[\d:.]+)?", text)
    return sorted(found)


def save_pages(pdf: Path, folder: Path, prefix: str) -> list[Path]:
    """Every page as PNG (for the issue note), checked not blank."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{prefix}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "70", str(pdf), str(folder / prefix)], check=True)
    pages = sorted(folder.glob(f"{prefix}-*.png"))
    for page in pages[:-1]:  # the last may hold only the end of the methods
        _assert_not_blank(page)
    return pages


def test_bulletin_draws_every_panel_protects_numbers_and_prints(settings, indicators, db, tmp_path):
    result = publish_bulletin("2025-10", settings, indicators=indicators)
    assert result.panels == {
        "homicide_rates": "drawn",
        "homicide_counts": "drawn",
        "femicides": "drawn",
        "violence_rates": "drawn",
        "homicide_map": "drawn",
        "municipality_ranking": "drawn",
        "justice_funnel": "drawn",
        "dark_figure": "drawn",
        "data_quality": "drawn",
        "citizen_priorities": "drawn",
        "police_victims": "missing",
    }
    html = result.html.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 10
    # The small town's 12-month rate rests on 6 homicides: suppressed, never ranked or named.
    ranking = html[html.index('id="municipality_ranking"') : html.index('id="justice_funnel"')]
    assert "Santa Bárbara (02006)" not in ranking and "Villa Nueva (01004)" in ranking
    assert "municipios con cifras suprimidas (*)" in ranking
    # Medians do not add up from municipalities: the national ones come from the funnel mart.
    assert (
        'Mediana de días de la causa a la acusación (octubre de 2025)</td><td class="num">104'
        in html
    )
    # Each priority with the name of the indicator it maps to and where it is heading.
    assert '<td>Robos</td><td class="num">990</td><td>Incidencia ajustada de robo' in html
    # Convictions are 3 a month in each municipality (hidden there) but 216 in 12 months:
    # a national total that large is published.
    assert '<td>Causas con condena</td><td class="num">216</td>' in html
    # Under ten femicides a month in the whole country: the national figure is hidden too.
    assert "Víctimas de femicidio en octubre de 2025: no se publica (*)" in html
    # 12 victims answered about extortion: no point value, listed apart.
    dark = html[html.index('id="dark_figure"') : html.index('id="data_quality"')]
    assert "Sin estimación publicable" in dark and "<td>Cifra oculta de extorsión" not in dark
    assert "<td>Cifra oculta de robo (encuesta)</td>" in dark and "150 víctimas encuestadas" in dark
    assert (result.folder / "graficos" / "homicide_map.png").is_file()
    assert result.pdf.read_bytes().startswith(b"%PDF")
    png = _png(result.pdf, tmp_path / "page.png")
    _assert_not_blank(png)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    _png(result.pdf, ARTIFACT)
    row = db.execute(
        "select recipient, spec_name, format, success, jsonb_array_length(files)"
        " from ops.deliveries where spec_name = 'bulletin' order by delivery_id desc limit 1"
    ).fetchone()
    assert row == ("boletin", "bulletin", "html+pdf", True, 2)


def test_bulletin_pdf_speaks_spanish_with_cover_map_and_methods(settings, indicators, db):
    result = publish_bulletin("2025-10", settings, indicators=indicators)
    PAGES.mkdir(parents=True, exist_ok=True)
    shutil.copy(result.pdf, PAGES / "fixture.pdf")
    pages = _pages(result.pdf)
    text = "\n".join(pages)
    assert _codes_shown(text) == []
    cut_off = db.execute(
        "select max(finished_at) from ops.batch_ledger where status = 'loaded'"
    ).fetchone()[0]
    cover = " ".join(pages[0].split())
    assert "Boletín mensual de seguridad ciudadana" in cover
    assert "Octubre de 2025" in cover and f"Datos al {day_words(cut_off)}" in cover
    # Units in words, sources by name, municipalities with their names.
    words = " ".join(text.split())
    assert "por 100 000 habitantes al año" in words and "por 100 000 mujeres al año" in words
    assert "Medicina Legal" in words and "Villa Nueva (01004)" in words
    flat = [" ".join(page.split()) for page in pages]
    map_pages = [
        n for n, page in enumerate(flat) if "Mapa municipal de la tasa de homicidio" in page
    ]
    # The cover's contents name it too: the map's page is a later one, with its image on it.
    assert map_pages[0] == 0 and len(map_pages) == 2
    page = str(map_pages[1] + 1)
    images = subprocess.run(
        ["pdfimages", "-list", "-f", page, "-l", page, str(result.pdf)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()[2:]
    assert images, "the map's page has no image"
    start = max(n for n, page in enumerate(flat) if "Notas metodológicas" in page)
    methods = " ".join(flat[start:])
    assert start > map_pages[1] and "Fuentes" in methods and "Definiciones" in methods
    assert "Notas metodológicas" in methods and "de 1 a 9 casos" in methods
    assert "menos de 20 casos es inestable" in methods
    # Several panels a page: far fewer pages than panels.
    assert len([p for p in flat if p.strip()]) <= 8
    pages_png = save_pages(result.pdf, PAGES, "fixture")
    assert len(pages_png) >= 4


def test_dark_figure_uses_the_design_based_estimates_when_built(settings, indicators, db):
    """With `mart_survey_estimates` beside the indicators, the dark figure is 1 minus its
    reporting rate, with the interval and CV; an estimate it suppresses is listed, not drawn."""
    db.execute(
        "create table bulletin_test.mart_survey_estimates (survey_year integer,"
        " domain_level text, sex text, age_group text, measure text, crime_type text,"
        " value numeric, value_lower_95 numeric, value_upper_95 numeric, cv numeric,"
        " base_respondents integer, verdict text)"
    )
    db.execute(
        "insert into bulletin_test.mart_survey_estimates values"
        " (2025, 'national', 'all', 'all', 'reporting_rate', 'robbery', 0.40, 0.30, 0.50, 0.12,"
        " 150, 'published'),"
        " (2025, 'national', 'all', 'all', 'reporting_rate', 'theft', 0.25, 0.05, 0.45, 0.41,"
        " 60, 'imprecise'),"
        " (2025, 'national', 'all', 'all', 'reporting_rate', 'extortion', null, null, null,"
        " null, 12, 'suppressed'),"
        " (2025, 'national', 'all', 'all', 'prevalence', 'robbery', 0.08, 0.07, 0.09, 0.05,"
        " 3000, 'published'),"
        # The women's and the 20-24s' estimates of the same year are not the nation's.
        " (2025, 'national', 'F', 'all', 'reporting_rate', 'robbery', 0.70, 0.60, 0.80, 0.07,"
        " 70, 'published'),"
        " (2025, 'national', 'all', '20-24', 'reporting_rate', 'theft', 0.90, 0.85, 0.95, 0.03,"
        " 40, 'published'),"
        " (2024, 'national', 'all', 'all', 'reporting_rate', 'robbery', 0.10, 0.05, 0.15, 0.2,"
        " 99, 'published')"
    )
    db.execute("grant select on bulletin_test.mart_survey_estimates to observatorio_delivery")
    result = publish_bulletin("2025-10", settings, indicators=indicators)
    html = result.html.read_text(encoding="utf-8")
    dark = html[html.index('id="dark_figure"') : html.index('id="data_quality"')]
    assert "Encuesta de victimización de 2025" in dark
    assert '<td>Cifra oculta de robo (encuesta)</td><td class="num">60,0 %</td>' in dark
    assert "150 víctimas encuestadas, CV 12 %" in dark
    assert "CV 41 % (poco preciso)" in dark
    assert "70 víctimas encuestadas" not in dark and "CV 3 %" not in dark
    assert "Sin estimación publicable" in dark and "Cifra oculta de extorsión (encuesta)." in dark


def test_panels_without_data_say_so(settings, db, tmp_path):
    db.execute("drop schema if exists bulletin_empty cascade")
    result = publish_bulletin("2025-10", settings, indicators="bulletin_empty.nothing")
    assert set(result.panels.values()) == {"missing"}
    html = result.html.read_text(encoding="utf-8")
    assert html.count("Sin datos todavía") >= 9
    _assert_not_blank(_png(result.pdf, tmp_path / "empty.png"))


def test_missing_chromium_fails_clearly_and_is_audited(settings, indicators, db, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("OBSERVATORIO_CHROMIUM", raising=False)
    with pytest.raises(BulletinError, match="apt-get install -y chromium"):
        publish_bulletin("2025-10", settings, indicators=indicators)
    row = db.execute(
        "select success, error from ops.deliveries where spec_name = 'bulletin'"
        " order by delivery_id desc limit 1"
    ).fetchone()
    assert row[0] is False and "Chromium" in row[1]
    assert not list((settings.outbox_dir / "boletin").glob(".*partial"))


def test_scheduled_bulletin_without_chromium_publishes_the_html(
    settings, indicators, db, monkeypatch
):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("OBSERVATORIO_CHROMIUM", raising=False)
    result = publish_bulletin("2025-10", settings, indicators=indicators, require_pdf=False)
    assert result.pdf is None and result.html.is_file()
    assert "<html" in result.html.read_text(encoding="utf-8").lower()
    row = db.execute(
        "select success, files from ops.deliveries where spec_name = 'bulletin'"
        " order by delivery_id desc limit 1"
    ).fetchone()
    assert row[0] is True and [f["file"] for f in row[1]] == [result.html.name]


def _delivered(db) -> list[tuple]:
    return db.execute(
        "select spec_name, triggered_by, period, run_id, attempt, is_redelivery, files"
        " from ops.deliveries where success order by spec_name, delivery_id"
    ).fetchall()


def _content(files: list[dict]) -> dict[str, object]:
    return {
        f["file"]: f["sha256"] if f["file"].endswith((".csv", ".parquet")) else f["rows"]
        for f in files
    }


@pytest.mark.slow
def test_deliver_extracts_delivers_its_runs_period_and_a_cleared_run_delivers_it_again(
    airflow_db, db, tmp_path_factory
):
    """One task per spec plus the bulletin; the month comes from the run, not the wall clock."""
    from datetime import UTC, datetime

    from airflow.dag_processing.dagbag import DagBag

    from observatorio.delivery.specs import available_specs, load_spec

    settings = airflow_db
    # Built here, not reused: the marts an earlier test of the session left may hold another
    # year, and this test delivers 2025-10.
    build_police_marts(settings, tmp_path_factory.mktemp("dag"))
    db.execute("truncate ops.deliveries")
    bag = DagBag(dag_folder=str(settings.dags_dir / "deliver_extracts.py"))
    assert bag.import_errors == {}
    dag = bag.dags["deliver_extracts"]
    # A run whose data interval ends on 2025-11-01 delivers October 2025.
    november = datetime(2025, 11, 1, tzinfo=UTC)
    dag_run = dag.test(run_after=november, logical_date=november)
    assert str(dag_run.state) == "success"
    instances = dag_run.get_task_instances()
    mapped = [ti for ti in instances if ti.task_id == "deliver"]
    specs = available_specs()
    assert len(mapped) == len(specs)
    assert all(str(ti.state) == "success" for ti in instances)
    first = _delivered(db)
    names = sorted([*specs, "bulletin"])
    assert [r[:6] for r in first] == [
        (n, "schedule", "2025-10", dag_run.run_id, 1, False) for n in names
    ]
    with next((settings.outbox_dir / "ministerio_seguridad").glob("*_2025-10/*.csv")).open(
        encoding="utf-8-sig", newline=""
    ) as handle:
        # The ministry's CSV dialect: `;` for a Spanish-locale Excel (its spec's `csv:`).
        assert {r["mes"] for r in csv.DictReader(handle, delimiter=";")} == {"2025-10"}

    # The same run again (dag.test clears it and runs it anew under the same run id; a clear
    # in the scheduler does the same as the next try): every spec and the bulletin are
    # delivered again for 2025-10, each as a re-delivery.
    cleared = dag.test(run_after=november, logical_date=november)
    assert (cleared.run_id, str(cleared.state)) == (dag_run.run_id, "success")
    both = _delivered(db)
    assert [r[:6] for r in both] == [
        row
        for n in names
        for row in (
            (n, "schedule", "2025-10", dag_run.run_id, 1, False),
            (n, "schedule", "2025-10", dag_run.run_id, 1, True),
        )
    ]
    for before, after in zip(both[::2], both[1::2], strict=True):
        if before[0] == "bulletin":  # the page and the PDF carry their generation time
            assert [f["file"] for f in before[6]] == [f["file"] for f in after[6]]
            continue
        # The same files: CSV and Parquet byte for byte; an XLSX (which records when it was
        # saved) and lineage.json (when it was generated) with the same rows.
        assert _content(before[6]) == _content(after[6]) != {}
    # One folder per recipient for the period, nothing half-written or left behind.
    for name in names:
        recipient = "boletin" if name == "bulletin" else load_spec(name).recipient
        folders = sorted(p.name for p in (settings.outbox_dir / recipient).iterdir() if p.is_dir())
        assert [f for f in folders if "2025-10" in f] == [
            f"{recipient if name == 'bulletin' else name}_2025-10"
        ]
        assert not [f for f in folders if f.startswith(".")]

    # Another run in the same month (the marts rebuilt on the 20th): only the @weekly spec
    # is due again; the monthly ones and the bulletin were sent this month already.
    the_20th = datetime(2025, 11, 20, tzinfo=UTC)
    later = dag.test(run_after=the_20th, logical_date=the_20th)
    assert str(later.state) == "success"
    added = [r[:6] for r in _delivered(db) if r[3] == later.run_id]
    weekly = [n for n in specs if load_spec(n).schedule == "@weekly"]
    assert weekly and [r[0] for r in added] == sorted(weekly)
    assert all(r[2] == "2025-10" and r[5] for r in added)
