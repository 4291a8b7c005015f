"""Backups and restores of one installation: the database, then the media folder, and a manifest.

A backup is a new directory:

    manifest.json     when, which Shopper, which database, row counts, the SHA-256 of the database copy
    shopper.sqlite3   SQLite: a copy made with SQLite's online backup API, in one read transaction, so it is one
                      consistent moment while the app keeps writing (WAL lets writers go on)
    shopper.pgdump    PostgreSQL: pg_dump's custom format, taken from the same snapshot as the counts
    media/            the media storage (its folder, or its S3 bucket), copied after the database: every file a
                      row of the copy needs, plus perhaps files of uploads that came later (harmless; `media check`
                      lists them)

A directory rather than a .tar.gz: photos and PDFs are compressed already, so gzip would only cost time, and plain
files let rsync or restic send just the new photos of each nightly copy. It is built under a hidden name beside
DEST, readable only by its owner (it holds password hashes), and renamed to DEST once complete, so DEST never holds
half a backup. The secret key and instance/config.py are not in it: they belong with the server's configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, func, inspect, literal, select, table, text

from shopper.maintenance.media_check import Reference, referenced_files
from shopper.media.keys import TEMP_NAME
from shopper.media.storage import LocalStorage, Storage, walk

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_COPY = "shopper.sqlite3"
POSTGRES_DUMP = "shopper.pgdump"
MEDIA = "media"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]


def app_version() -> str:
    try:
        return metadata.version("shopper")
    except metadata.PackageNotFoundError:
        return "unknown"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Taking a backup ----------------------------------------------------------------------------------------------


def make_backup(dest: Path, engine: Engine, media: Storage, now: datetime) -> BackupResult:
    """Copy the database, then the media, into the new directory `dest`. Raises BackupError (nothing is left
    behind then)."""
    dest = Path(dest).absolute()
    if dest.exists() or dest.is_symlink():
        raise BackupError(
            f"{dest} already exists, and a backup never overwrites. Choose a new name (say, with the date)."
        )
    if not dest.parent.is_dir():
        raise BackupError(f"There is no folder {dest.parent} to put the backup in.")
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        if engine.dialect.name == "sqlite":
            database, facts = _copy_sqlite(engine, work)
        elif engine.dialect.name == "postgresql":
            database, facts = _dump_postgresql(engine, work, media)
        else:
            raise BackupError(f"Backups of {engine.dialect.name} databases are not supported.")
        files, size = copy_out(media, work / MEDIA)
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(timespec="seconds"),
            "app_version": app_version(),
            "database": {**database, "revision": facts.revision},
            "counts": facts.counts,
            "media": {
                "folder": MEDIA,
                "files": files,
                "bytes": size,
                # rows of the copy whose file was deleted before the media was copied (a photo removed meanwhile)
                "missing": sorted(key for key in facts.wanted if not (work / MEDIA / key).is_file()),
            },
        }
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if dest.exists():
            raise BackupError(f"{dest} appeared while the backup was being made; it is left as it is.")
        work.rename(dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BackupResult(dest, manifest)


@dataclass(frozen=True)
class _Facts:
    counts: dict[str, int]
    wanted: dict[str, Reference]
    revision: str | None


def _facts(connection: Connection) -> _Facts:
    names = set(inspect(connection).get_table_names())
    if "organization" not in names:
        raise BackupError("This database has no Shopper tables yet (run `flask --app shopper db upgrade`).")
    counts = {
        name: connection.scalar(select(func.count()).select_from(table(name)))
        for name in sorted(names - {"alembic_version"})
    }
    revision = (
        connection.scalar(text("SELECT version_num FROM alembic_version")) if "alembic_version" in names else None
    )
    return _Facts(counts, referenced_files(connection), revision)


def sqlite_path(engine: Engine) -> Path:
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError(f"Only a SQLite database in a file can be backed up, not {engine.url!s}.")
    return Path(name).resolve()


def _copy_sqlite(engine: Engine, work: Path) -> tuple[dict, _Facts]:
    source = sqlite_path(engine)
    if not source.is_file():
        raise BackupError(f"There is no database at {source}.")
    target = work / SQLITE_COPY
    with closing(sqlite3.connect(source, timeout=30)) as live, closing(sqlite3.connect(target)) as copy:
        live.backup(copy)  # every page in one step: one read transaction, so one consistent moment
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, whatever the original's mode
        _check_integrity(copy, "The copy of the database")
    facts = _read_facts(target)
    return {"kind": "sqlite", "file": SQLITE_COPY, "bytes": target.stat().st_size, "sha256": sha256_of(target)}, facts


def _read_facts(sqlite_file: Path) -> _Facts:
    engine = create_engine(f"sqlite:///{sqlite_file}")
    try:
        with engine.connect() as connection:
            return _facts(connection)
    finally:
        engine.dispose()


def _check_integrity(connection: sqlite3.Connection, what: str) -> None:
    result = connection.execute("PRAGMA integrity_check").fetchall()
    if result != [("ok",)]:
        raise BackupError(f"{what} fails SQLite's integrity check: {result[:5]}")


def libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """The database as a libpq URI for pg_dump and pg_restore, and their environment: the password goes in
    PGPASSWORD, never on a command line that other users of the server can read."""
    url = engine.url
    uri = URL.create(
        "postgresql", username=url.username, host=url.host, port=url.port, database=url.database, query=url.query
    ).render_as_string(hide_password=False)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return uri, env


PG_DUMP_OPTIONS = ("--format=custom",)
#: --clean --if-exists: tables of the backup that exist already are replaced (only with --force: a restore refuses a
#: database with data), and a new, empty database is filled as well
PG_RESTORE_OPTIONS = (
    "--clean",
    "--if-exists",
    "--no-owner",
    "--no-privileges",
    "--exit-on-error",
    "--single-transaction",
)


def pg_dump_command(dump: str) -> str:
    """The pg_dump command line, for people: the database comes from $DATABASE_URL."""
    return shlex.join(["pg_dump", *PG_DUMP_OPTIONS, f"--file={dump}"]) + ' "$DATABASE_URL"'


def pg_restore_command(dump: str) -> str:
    return shlex.join(["pg_restore", *PG_RESTORE_OPTIONS]) + f' --dbname="$DATABASE_URL" {shlex.quote(dump)}'


def media_copy_command(media: Storage, folder: str, restore: bool = False) -> str:
    """The command that copies the media storage into the backup's folder `folder` (or back, to restore), for
    people: `cp -a` for a media folder, `aws s3 sync` for a bucket."""
    from shopper.media.s3 import S3Storage  # only here: boto3 is imported where S3 is used

    if isinstance(media, S3Storage):
        endpoint = f" --endpoint-url {shlex.quote(media.endpoint_url)}" if media.endpoint_url else ""
        bucket = f"s3://{media.bucket}"
        source, target = (f"{folder}/", bucket) if restore else (bucket, f"{folder}/")
        return f"aws s3 sync{endpoint} {source} {target}"
    root = str(media.root) if isinstance(media, LocalStorage) else "MEDIA_ROOT"
    source, target = (folder, root) if restore else (root, folder)
    return f"cp -a {source}/. {target}/"


def _dump_postgresql(engine: Engine, work: Path, media: Storage) -> tuple[dict, _Facts]:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupError(
            "pg_dump is not installed on this server, so nothing was backed up. Install PostgreSQL's client "
            "programs (Debian: apt-get install postgresql-client, of the server's major version or newer) and run "
            "the backup again. To copy by hand instead, dump the database first, then copy the media:\n"
            f"  mkdir -m 700 DEST && {pg_dump_command('DEST/' + POSTGRES_DUMP)}\n"
            f"  {media_copy_command(media, 'DEST/' + MEDIA)}"
        )
    target = work / POSTGRES_DUMP
    uri, env = libpq(engine)
    with engine.connect() as connection:
        connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with connection.begin():
            snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
            facts = _facts(connection)  # the counts and the dump see the same moment
            run = subprocess.run(
                [pg_dump, *PG_DUMP_OPTIONS, f"--snapshot={snapshot}", f"--file={target}", f"--dbname={uri}"],
                env=env,
                capture_output=True,
                text=True,
            )
    if run.returncode != 0:
        raise BackupError(f"pg_dump failed, so nothing was backed up: {run.stderr.strip()}")
    return {
        "kind": "postgresql",
        "file": POSTGRES_DUMP,
        "bytes": target.stat().st_size,
        "sha256": sha256_of(target),
    }, facts


def copy_out(media: Storage, target: Path) -> tuple[int, int]:
    """Copy what `media` stores into the folder `target` (made if needed), keeping the files' times; temp files of
    writes under way are left out, and a file removed meanwhile is skipped. Returns the files and bytes copied."""
    target.mkdir(mode=0o750, parents=True, exist_ok=True)
    files = size = 0
    for file in media.list():
        if TEMP_NAME.fullmatch(Path(file.key).name):
            continue
        destination = target / file.key
        destination.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        try:
            with media.open(file.key) as stream, destination.open("wb") as copy:
                shutil.copyfileobj(stream, copy, 1024 * 1024)
        except FileNotFoundError:
            destination.unlink(missing_ok=True)
            continue
        os.utime(destination, (file.modified, file.modified))
        files += 1
        size += destination.lstat().st_size
    return files, size


def copy_in(source: Path, media: Storage) -> None:
    """Store the files of the backup folder `source` in `media`, each written whole (temp files are left out)."""
    for file in walk(source):
        if TEMP_NAME.fullmatch(Path(file.key).name):
            continue
        with (source / file.key).open("rb") as stream:
            try:
                media.save_stream(file.key, stream)
            except ValueError:
                raise BackupError(
                    f"The backup's media folder holds {file.key!r}, which is not a name Shopper stores: move it out "
                    f"of {source} and run the restore again."
                ) from None


# Restoring ----------------------------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict[str, Any]:
    path = Path(source) / MANIFEST
    if not path.is_file():
        raise BackupError(f"{source} has no {MANIFEST}: it is not a Shopper backup, or it was never finished.")
    try:
        manifest = json.loads(path.read_text())
    except ValueError:
        raise BackupError(f"{path} is damaged: it is not JSON.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a manifest this version of Shopper can read.")
    return manifest


def verify_backup(source: Path) -> dict[str, Any]:
    """The manifest of a complete, undamaged backup; raises BackupError otherwise."""
    source = Path(source)
    manifest = read_manifest(source)
    database = manifest["database"]
    copy = source / database["file"]
    if not copy.is_file():
        raise BackupError(f"The backup has no database copy ({copy} is missing).")
    if sha256_of(copy) != database["sha256"]:
        raise BackupError(f"{copy} does not match the checksum in the manifest: this backup is damaged.")
    found = list(walk(source / MEDIA))
    expected = (manifest["media"]["files"], manifest["media"]["bytes"])
    if (len(found), sum(file.bytes for file in found)) != expected:
        raise BackupError(
            f"The backup's media folder has {len(found)} files, {sum(file.bytes for file in found)} bytes; the "
            f"manifest says {expected[0]} files, {expected[1]} bytes: this backup is incomplete or damaged."
        )
    return manifest


def existing_rows(engine: Engine) -> list[str]:
    """The tables of this database that hold rows (empty for a new or freshly migrated database)."""
    with engine.connect() as connection:
        names = sorted(set(inspect(connection).get_table_names()) - {"alembic_version"})
        return [
            name for name in names if connection.execute(select(literal(1)).select_from(table(name)).limit(1)).first()
        ]


def restore_backup(source: Path, engine: Engine, media: Storage, force: bool = False) -> dict[str, Any]:
    """Restore the database and the media of the backup at `source` into this instance, and return its manifest.

    Raises BackupError before changing anything when the backup is damaged, is of the other kind of database, or
    the database already has data (unless `force`); and after, if the restored rows do not add up.
    """
    source = Path(source).resolve()
    manifest = verify_backup(source)
    kind = manifest["database"]["kind"]
    if kind != engine.dialect.name:
        raise BackupError(f"This is a backup of a {kind} database; this instance uses {engine.dialect.name}.")
    if not force and (tables := existing_rows(engine)):
        raise BackupError(
            f"This instance's database already has data (in {', '.join(tables[:4])}"
            f"{', ...' if len(tables) > 4 else ''}). Restore into a new instance, or add --force to replace it."
        )
    engine.dispose()  # no pooled connection may hold on to the database being replaced
    copy = source / manifest["database"]["file"]
    if kind == "sqlite":
        _restore_sqlite(copy, sqlite_path(engine))
    else:
        _restore_postgresql(copy, engine, media)
    copy_in(source / MEDIA, media)
    with engine.connect() as connection:
        counts = _facts(connection).counts
    if counts != manifest["counts"]:
        wrong = sorted(name for name in manifest["counts"] if counts.get(name) != manifest["counts"][name])
        raise BackupError(f"The restored database does not hold the rows the manifest lists (in {', '.join(wrong)}).")
    return manifest


def _restore_sqlite(copy: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)) as backup:
        _check_integrity(backup, "The backup's database")
        with closing(sqlite3.connect(target, timeout=30)) as live:
            backup.backup(live)  # page by page under SQLite's own locks, also over a database in WAL mode
            live.execute("PRAGMA journal_mode=WAL")


def _restore_postgresql(copy: Path, engine: Engine, media: Storage) -> None:
    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        raise BackupError(
            "pg_restore is not installed on this server, so nothing was restored. Install PostgreSQL's client "
            "programs (Debian: apt-get install postgresql-client) and run the restore again, or restore by hand:\n"
            f"  {pg_restore_command(str(copy))}\n"
            f"  {media_copy_command(media, str(copy.parent / MEDIA), restore=True)}"
        )
    uri, env = libpq(engine)
    run = subprocess.run(
        [pg_restore, *PG_RESTORE_OPTIONS, f"--dbname={uri}", str(copy)], env=env, capture_output=True, text=True
    )
    if run.returncode != 0:
        raise BackupError(f"pg_restore failed, and left the database as it was: {run.stderr.strip()}")
