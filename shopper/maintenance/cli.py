"""`flask --app shopper backup DEST`, `restore SRC` and `media check [--fix]`: see the README's "Backups"."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import Flask, current_app
from flask.cli import with_appcontext

from shopper.database import end_reading, reads_first, write_transaction
from shopper.extensions import db
from shopper.maintenance.backup import BackupError, make_backup, read_manifest, restore_backup
from shopper.maintenance.media_check import GRACE_SECONDS, MediaReport, check_media, forget_missing_pdfs, remove_files
from shopper.media import get_storage
from shopper.media.storage import Storage, StoredFile
from shopper.timeutil import utcnow


def init_app(app: Flask) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(media_group)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    for unit in ("KB", "MB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} GB"


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(dest: Path) -> None:
    """Copy the database, then the media (its folder, or its S3 bucket), into the new directory DEST, while the
    server runs."""
    try:
        result = make_backup(dest, db.engine, get_storage(), utcnow())
    except BackupError as e:
        raise click.ClickException(str(e)) from None
    except (OSError, sqlite3.Error) as e:  # a full disk, most often
        raise click.ClickException(f"The backup could not be written ({e}); nothing of it was kept.") from None
    manifest = result.manifest
    counts, media = manifest["counts"], manifest["media"]
    click.echo(
        f"Backed up to {result.path}: the {manifest['database']['kind']} database "
        f"({counts.get('organization', 0)} organizations, {counts.get('audit', 0)} audits, "
        f"{counts.get('photo', 0)} photos) and {media['files']} media files ({_size(media['bytes'])})."
    )
    if media["missing"]:
        click.echo(
            f"Warning: {len(media['missing'])} files that rows of the copy refer to were not in the media storage "
            "(removed meanwhile, or already missing); `flask --app shopper media check` lists them.",
            err=True,
        )


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already has data.")
@with_appcontext
def restore_command(source: Path, force: bool) -> None:
    """Restore the backup in the directory SOURCE into this instance: its database, then its media (into the media
    folder, or the S3 bucket). Stop the server first."""
    scripts = ScriptDirectory(current_app.extensions["migrate"].directory)
    head = scripts.get_current_head()
    try:
        revision = read_manifest(source)["database"].get("revision")
        if revision is not None:
            try:
                scripts.get_revision(revision)
            except CommandError:
                raise BackupError(
                    f"This backup was made by a newer version of Shopper (database revision {revision}; this one "
                    f"knows up to {head}). Restore it with that version or a later one."
                ) from None
        manifest = restore_backup(source, db.engine, get_storage(), force=force)
    except BackupError as e:
        raise click.ClickException(str(e)) from None
    except (OSError, sqlite3.Error) as e:  # a full disk, most often
        raise click.ClickException(
            f"The restore stopped ({e}). Make room or fix the cause, then run it again."
        ) from None
    counts = manifest["counts"]
    click.echo(
        f"Restored the backup of {manifest['created_at']} (Shopper {manifest['app_version']}): "
        f"{counts.get('organization', 0)} organizations, {counts.get('audit', 0)} audits, "
        f"{counts.get('photo', 0)} photos, {manifest['media']['files']} media files."
    )
    if revision != head:
        click.echo("The backup's database is from an older version: run `flask --app shopper db upgrade` next.")
    click.echo("Then `flask --app shopper media check` compares the media storage with the restored rows.")


@click.group("media")
def media_group() -> None:
    """The media storage: photos, after photos, logos, cached PDFs and ZIPs."""


def _listing(files: list[StoredFile], now: float, note: str = "") -> None:
    for file in files:
        hours = max(0.0, now - file.modified) / 3600
        age = f"{hours:.0f} hours old" if hours < 48 else f"{hours / 24:.0f} days old"
        click.echo(f"  {file.key}  {_size(file.bytes)}, {age}{note}")


def _print(report: MediaReport, media: Storage, grace_minutes: int, now: float, fixed: bool, dropped: int) -> None:
    where = media.describe()
    click.echo(f"{where[:1].upper()}{where[1:]}: {report.files} files.")
    done = "  [removed]" if fixed else ""
    if report.orphans:
        click.echo(f"Files no row refers to: {len(report.orphans)}")
        _listing(report.orphans, now, done)
    if report.temp_files:
        click.echo(f"Temp files left by interrupted writes: {len(report.temp_files)}")
        _listing(report.temp_files, now, done)
    if report.missing:
        click.echo(f"Rows whose file is missing: {len(report.missing)}")
        for item in report.missing:
            pdf = item.reference.report_pdf_of is not None
            note = "  [forgotten: it is rendered again when next asked for]" if pdf and fixed else ""
            click.echo(f"  {item.reference.label}: {item.key}{note}")
    if report.recent:
        click.echo(
            f"Files without a row, younger than {grace_minutes} minutes (left alone: an upload may be under way): "
            f"{len(report.recent)}"
        )
        _listing(report.recent, now)
    if report.unknown:
        click.echo(f"Files Shopper does not write (left alone): {len(report.unknown)}")
        _listing(report.unknown, now)
    if fixed and dropped:
        click.echo(f"Forgot {dropped} cached PDF records without their file.")


@media_group.command("check")
@click.option("--fix", is_flag=True, help="Remove files no row refers to and stale temp files (never recent ones).")
@click.option(
    "--grace-minutes",
    type=click.IntRange(min=0),
    default=GRACE_SECONDS // 60,
    show_default=True,
    help="Files younger than this are left alone: an upload writes its files just before its row.",
)
@with_appcontext
def media_check(fix: bool, grace_minutes: int) -> None:
    """List stored files without rows, and rows without their files. Exits 1 while problems remain."""
    media = get_storage()
    reads_first()  # the check only reads: it never holds SQLite's write lock
    now = utcnow().timestamp()
    report = check_media(media, db.session.connection(), now=now, grace=grace_minutes * 60)
    end_reading()
    dropped = 0
    if fix:
        remove_files(media, report.orphans + report.temp_files)
        with write_transaction():
            dropped = forget_missing_pdfs(db.session.connection(), report.missing)
    _print(report, media, grace_minutes, now, fix, dropped)
    remaining = len(report.missing) - dropped
    if not fix:
        remaining += len(report.orphans) + len(report.temp_files)
    if remaining:
        advice = []
        if not fix and (report.orphans or report.temp_files):
            advice.append("`--fix` removes the files no row refers to and the stale temp files")
        if len(report.missing) > dropped:
            advice.append("rows without their files need the files restored from a backup")
        click.echo(f"{remaining} {'problem' if remaining == 1 else 'problems'}: " + "; ".join(advice) + ".")
        raise click.exceptions.Exit(1)
    click.echo("No problems found." if not fix else "No problems remain.")
