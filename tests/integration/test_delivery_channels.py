"""Delivery channels for real: a zip through Airflow's SFTP hook to an asyncssh SFTP server on
127.0.0.1, and through Airflow's SMTP hook to an aiosmtpd SMTP server, both started in the test."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
import yaml

from observatorio.delivery.errors import ExtractError
from observatorio.delivery.extracts import deliver
from tests.integration.test_extracts import ensure_police_marts
from tests.sftp_server import PASSWORD, USER, loop, start_sftp_server
from tests.smtp_server import smtp_server as start_smtp_server

SPEC = Path(__file__).parents[2] / "extracts" / "ministerio_seguridad.yaml"
__all__ = ["loop"]  # the shared fixture, used by the servers below


@pytest.fixture(scope="module")
def marts(warehouse_url, settings, tmp_path_factory):
    ensure_police_marts(settings, tmp_path_factory.mktemp("channels"))
    return settings


@pytest.fixture
def sftp_server(loop, tmp_path, monkeypatch):
    server = start_sftp_server(loop, tmp_path / "sftp_root")
    root, port = server.root, server.port
    monkeypatch.setenv(
        "AIRFLOW_CONN_SFTP_MINISTERIO",
        json.dumps(
            {
                "conn_type": "sftp",
                "host": "127.0.0.1",
                "port": port,
                "login": USER,
                "password": PASSWORD,
                "extra": {"no_host_key_check": True},
            }
        ),
    )
    yield root, port
    server.close()


@pytest.fixture
def smtp_server(monkeypatch):
    with start_smtp_server() as received:
        monkeypatch.setenv(
            "AIRFLOW_CONN_SMTP_OBSERVATORIO",
            json.dumps(
                {
                    "conn_type": "smtp",
                    "host": "127.0.0.1",
                    "port": received.port,
                    "extra": {
                        "disable_ssl": True,
                        "disable_tls": True,
                        "from_email": "observatorio@example.org",
                        "retry_limit": 0,
                    },
                }
            ),
        )
        yield received


def _spec(tmp_path: Path, name: str, channel: dict, **overrides) -> str:
    spec = yaml.safe_load(SPEC.read_text())
    spec["recipient"] = name
    spec["channel"] = channel
    spec.update(overrides)
    folder = tmp_path / "specs"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    return name


def _check_zip(data: bytes, delivery) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read(f"{delivery.folder.name}/manifest.json"))
        for entry in manifest["files"]:
            content = archive.read(f"{delivery.folder.name}/{entry['file']}")
            assert hashlib.sha256(content).hexdigest() == entry["sha256"]
    assert {n.split("/")[-1] for n in names} >= {
        "manifest.json",
        "lineage.json",
        "diccionario_de_datos.csv",
    }


def test_sftp_delivery_lands_a_complete_zip_and_is_audited(marts, sftp_server, tmp_path, db):
    root, port = sftp_server
    name = _spec(
        tmp_path,
        "ministerio_sftp",
        {"type": "sftp", "conn_id": "sftp_ministerio", "remote_dir": "/entrada"},
    )
    delivery = deliver(name, period="2025-10", settings=marts, specs_dir=tmp_path / "specs")
    landed = root / "entrada" / delivery.archive.name
    assert landed.is_file() and not list(root.rglob("*.part"))
    assert landed.read_bytes() == delivery.archive.read_bytes()
    _check_zip(landed.read_bytes(), delivery)
    assert delivery.remote_location == f"sftp://127.0.0.1:{port}/entrada/{landed.name}"
    # The CSV in the zip is in the spec's dialect (the ministry's: `;`, BOM) and exact: the
    # ministry owns the records, and the audit says which level the delivery used.
    with zipfile.ZipFile(io.BytesIO(landed.read_bytes())) as archive:
        [data_name] = [n for n in archive.namelist() if n.split("/")[-1].startswith(name)]
        raw = archive.read(data_name)
    assert raw.startswith(b"\xef\xbb\xbfmes;codigo_departamento;") and b";*;" not in raw
    row = db.execute(
        "select channel, disclosure_level, success, remote_location, archive_sha256,"
        " bytes_delivered from ops.deliveries where spec_name = %s",
        (name,),
    ).fetchone()
    assert row == (
        "sftp",
        "owner",
        True,
        delivery.remote_location,
        hashlib.sha256(landed.read_bytes()).hexdigest(),
        landed.stat().st_size,
    )
    # Delivering the period again replaces the archive on the server: one file, the new one.
    again = deliver(name, period="2025-10", settings=marts, specs_dir=tmp_path / "specs")
    assert again.archive.name == landed.name
    assert sorted(p.name for p in (root / "entrada").iterdir()) == [landed.name]
    assert landed.read_bytes() == again.archive.read_bytes()
    _check_zip(landed.read_bytes(), again)


def test_sftp_with_a_wrong_password_fails_and_is_audited(
    marts, sftp_server, tmp_path, db, monkeypatch
):
    conn = json.loads(__import__("os").environ["AIRFLOW_CONN_SFTP_MINISTERIO"])
    conn["password"] = "wrong"
    monkeypatch.setenv("AIRFLOW_CONN_SFTP_MINISTERIO", json.dumps(conn))
    name = _spec(tmp_path, "ministerio_sftp_mal", {"type": "sftp", "conn_id": "sftp_ministerio"})
    with pytest.raises(Exception, match=r"(?i)auth"):
        deliver(name, period="2025-10", settings=marts, specs_dir=tmp_path / "specs")
    row = db.execute(
        "select success, error from ops.deliveries where spec_name = %s", (name,)
    ).fetchone()
    assert row[0] is False and "auth" in row[1].lower()


def test_email_delivery_attaches_the_zip(marts, smtp_server, tmp_path, db):
    name = _spec(
        tmp_path,
        "ministerio_correo",
        {
            "type": "email",
            "conn_id": "smtp_observatorio",
            "to": ["estadistica@ministerio.example"],
            "subject": "Extracto mensual",
        },
        format="xlsx",
        disclosure={"level": "external", "marker": "*"},
    )
    delivery = deliver(name, period="2025-10", settings=marts, specs_dir=tmp_path / "specs")
    assert delivery.suppressed_cells > 0  # an external recipient: small counts are `*`
    assert len(smtp_server.messages) == 1
    [mail] = smtp_server.messages
    assert (mail.sender, mail.recipients) == (
        "observatorio@example.org",
        ["estadistica@ministerio.example"],
    )
    message = mail.message
    assert message["Subject"] == "Extracto mensual"
    attachments = [p for p in message.walk() if p.get_filename()]
    assert [a.get_filename() for a in attachments] == [delivery.archive.name]
    data = attachments[0].get_payload(decode=True)
    assert data == delivery.archive.read_bytes()
    _check_zip(data, delivery)
    body = next(p for p in message.walk() if p.get_content_type() == "text/html")
    assert hashlib.sha256(data).hexdigest() in body.get_payload(decode=True).decode()
    row = db.execute(
        "select channel, format, disclosure_level, success, remote_location"
        " from ops.deliveries where spec_name = %s",
        (name,),
    ).fetchone()
    assert row == ("email", "xlsx", "external", True, "mailto:estadistica@ministerio.example")


def test_email_refuses_an_attachment_above_its_limit(marts, smtp_server, tmp_path):
    name = _spec(
        tmp_path,
        "ministerio_correo_grande",
        {"type": "email", "conn_id": "smtp_observatorio", "to": ["a@b.example"], "max_bytes": 10},
    )
    with pytest.raises(ExtractError, match="above the email channel's max_bytes"):
        deliver(name, settings=marts, specs_dir=tmp_path / "specs")
    assert smtp_server.messages == []
