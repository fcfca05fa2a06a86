"""The channels a delivery leaves by: the outbox folder (always written), a zip uploaded over
SFTP through Airflow's `SFTPHook`, or mailed through its `SmtpHook`. Connections (hosts,
users, keys, passwords) live in Airflow connections, never in the spec.
"""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path

from observatorio.delivery.errors import ExtractError
from observatorio.delivery.manifest import Delivery
from observatorio.delivery.specs import Channel, ExtractSpec
from observatorio.delivery.writers import sha256_file


def zip_folder(folder: Path) -> Path:
    """The delivery folder as one zip beside it (what SFTP and email send)."""
    archive = folder.with_name(f"{folder.name}.zip")
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        for path in sorted(folder.iterdir()):
            handle.write(path, arcname=f"{folder.name}/{path.name}")
    return archive


def send_sftp(archive: Path, channel: Channel) -> str:
    """Upload through Airflow's SFTP provider; written as `.part`, renamed when complete
    (over the archive of an earlier delivery of the same period)."""
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    hook = SFTPHook(ssh_conn_id=channel.conn_id)
    remote_dir = channel.remote_dir.rstrip("/") or "/"
    remote = f"{remote_dir}/{archive.name}"
    with hook.get_managed_conn() as client:
        try:
            client.stat(remote_dir)
        except OSError:
            client.mkdir(remote_dir)
        client.put(str(archive), f"{remote}.part", confirm=True)
        try:
            # Replaces the archive of an earlier delivery of the same period in one step.
            client.posix_rename(f"{remote}.part", remote)
        except OSError:  # a server without the posix-rename extension
            with contextlib.suppress(OSError):
                client.remove(remote)
            client.rename(f"{remote}.part", remote)
        size = client.stat(remote).st_size
    if size != archive.stat().st_size:
        raise ExtractError(f"sftp {remote}: {size} bytes arrived, {archive.stat().st_size} sent")
    return f"sftp://{hook.remote_host}:{hook.port}{'' if remote.startswith('/') else '/'}{remote}"


def send_email(archive: Path, spec: ExtractSpec, delivery: Delivery) -> str:
    """Mail the zip through Airflow's SMTP provider (the connection holds host and sender)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    channel = spec.channel
    size = archive.stat().st_size
    if size > channel.max_bytes:
        raise ExtractError(
            f"{archive.name} is {size:,} bytes, above the email channel's max_bytes "
            f"({channel.max_bytes:,}) in {spec.path.name}: use sftp for this recipient"
        )
    subject = channel.subject or f"Observatorio: {spec.recipient} {delivery.period or ''}".strip()
    body = (
        f"<p>{spec.description}</p><p>Periodo / period: {delivery.period or 'all'}; "
        f"as of {delivery.as_of}; {delivery.rows} rows.</p>"
        f"<p>SHA-256 of the attachment: {sha256_file(archive)}</p>"
    )
    with SmtpHook(smtp_conn_id=str(channel.conn_id)) as hook:
        hook.send_email_smtp(
            to=list(channel.to),
            subject=subject,
            html_content=body,
            files=[str(archive)],
            from_email=hook.from_email or "observatorio@localhost",
        )
    return "mailto:" + ",".join(channel.to)
