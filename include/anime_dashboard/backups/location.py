"""Where backups live: one folder per backup under ``ANIME_DASHBOARD_BACKUP_URL``.

The URL is anything Airflow's object storage (``ObjectStoragePath``) understands: a local folder (a plain
path or ``file://``), or e.g. ``s3://aws_default@bucket/anime-dashboard`` for an off-host copy (with the
Amazon provider installed). A backup is the folder ``<id>/`` holding its dump files and ``manifest.json``;
``verification.json`` is added when it has been restored and checked.

Nothing appears under a final name before it is complete:

* local folders: the backup is written in ``.incoming/<id>/`` beside the others, each file flushed to disk,
  then the folder is renamed to ``<id>`` in one step (a crash or SIGKILL leaves at most a folder under
  ``.incoming/``, which later runs remove);
* object stores: each file is uploaded as ``<name>.partial`` and renamed, the manifest last, and a folder
  without a manifest is not a backup.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

MANIFEST = "manifest.json"
VERIFICATION = "verification.json"
INCOMING = ".incoming"
BACKUP_ID = re.compile(r"\d{8}T\d{6}Z")
# leftovers of an interrupted backup are removed once this old (no backup takes this long)
LEFTOVER_SECONDS = 6 * 3600


class BackupLocationError(RuntimeError):
    """The location cannot be read or written; the message names it."""


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BackupLocation:
    def __init__(self, url: str):
        from airflow.sdk import ObjectStoragePath

        self.url = url
        self.root = ObjectStoragePath(url if "://" in url else Path(url).resolve().as_uri())
        self.local = Path(self.root.path) if self.root.protocol in ("file", "local") else None

    def __str__(self) -> str:
        return str(self.local) if self.local else self.url

    def _fail(self, doing: str, exc: BaseException) -> BackupLocationError:
        return BackupLocationError(f"backup location {self} {doing}: {type(exc).__name__}: {exc}")

    # -- reading -------------------------------------------------------------------------------------------
    def backup_ids(self) -> list[str]:
        """The complete backups (those with a manifest), oldest first."""
        try:
            if not self.root.exists():
                return []
            ids = [p.name for p in self.root.iterdir() if BACKUP_ID.fullmatch(p.name)]
            return sorted(i for i in ids if (self.root / i / MANIFEST).exists())
        except OSError as exc:
            raise self._fail("cannot be listed", exc) from exc

    def read_json(self, backup_id: str, name: str) -> dict | None:
        path = self.root / backup_id / name
        try:
            return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
        except (OSError, ValueError) as exc:
            raise self._fail(f"has an unreadable {backup_id}/{name}", exc) from exc

    def manifest(self, backup_id: str) -> dict:
        found = self.read_json(backup_id, MANIFEST)
        if found is None:
            raise BackupLocationError(f"no backup {backup_id} in {self} (anime-dashboard backups lists them)")
        return found

    @contextlib.contextmanager
    def local_file(self, backup_id: str, name: str) -> Iterator[Path]:
        """A path on this machine to read a backup's file from (a download for an object store)."""
        if self.local:
            yield self.local / backup_id / name
            return
        with tempfile.TemporaryDirectory(prefix="anime-dashboard-restore-") as tmp:
            target = Path(tmp) / name
            try:
                with (self.root / backup_id / name).open("rb") as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except OSError as exc:
                raise self._fail(f"cannot give {backup_id}/{name}", exc) from exc
            yield target

    # -- writing -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def staging(self, backup_id: str) -> Iterator[Path]:
        """A local folder to write a backup's files into before :meth:`publish`; gone afterwards unless
        published. For a local location it is ``.incoming/<id>`` beside the backups (same filesystem, so
        publishing is a rename)."""
        try:
            if self.local:
                staged = self.local / INCOMING / backup_id
                staged.mkdir(parents=True, exist_ok=False)
            else:
                staged = Path(tempfile.mkdtemp(prefix=f"anime-dashboard-backup-{backup_id}-"))
        except OSError as exc:
            raise self._fail("is not writable", exc) from exc
        try:
            yield staged
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    def ensure_writable(self) -> None:
        """A small file written, flushed and removed: fails at once, naming the location, when it cannot be."""
        probe = self.root / INCOMING / f"probe-{uuid.uuid4().hex}"
        try:
            if self.local:
                (self.local / INCOMING).mkdir(parents=True, exist_ok=True)
                with open(self.local / INCOMING / probe.name, "wb") as f:
                    f.write(b"probe")
                    f.flush()
                    os.fsync(f.fileno())
                os.unlink(self.local / INCOMING / probe.name)
            else:
                probe.write_bytes(b"probe")
                probe.unlink()
        except OSError as exc:
            raise self._fail("is not writable", exc) from exc

    def publish(self, backup_id: str, staged: Path) -> None:
        """The staged files become the backup ``<id>``: all of them or none, the manifest last."""
        names = sorted(p.name for p in staged.iterdir() if p.name != MANIFEST) + [MANIFEST]
        try:
            if self.local:
                for name in names:
                    _fsync(staged / name)
                _fsync(staged)
                os.rename(staged, self.local / backup_id)  # refuses to replace an existing backup
                _fsync(self.local)
                return
            folder = self.root / backup_id
            for name in names:
                partial = folder / f"{name}.partial"
                with (staged / name).open("rb") as src, partial.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                partial.rename(folder / name)
        except OSError as exc:
            raise self._fail(f"could not take backup {backup_id}", exc) from exc

    def write_json(self, backup_id: str, name: str, data: dict) -> None:
        """A small file beside a backup's manifest, written under a temporary name, flushed, then renamed."""
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        try:
            if self.local:
                final = self.local / backup_id / name
                tmp = final.with_name(f".{name}.{uuid.uuid4().hex[:8]}.partial")
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, final)
                _fsync(final.parent)
            else:
                partial = self.root / backup_id / f"{name}.partial"
                partial.write_text(text, encoding="utf-8")
                partial.rename(self.root / backup_id / name)
        except OSError as exc:
            raise self._fail(f"could not record {backup_id}/{name}", exc) from exc

    def delete(self, backup_id: str) -> None:
        try:
            if self.local:  # out of the list in one step first: a crash mid-delete leaves no half backup
                doomed = self.local / INCOMING / f"deleting-{backup_id}"
                os.rename(self.local / backup_id, doomed)
                shutil.rmtree(doomed)
            else:
                (self.root / backup_id / MANIFEST).unlink()
                (self.root / backup_id).rmdir(recursive=True)
        except OSError as exc:
            raise self._fail(f"could not delete {backup_id}", exc) from exc

    def remove_leftovers(self, older_than: float = LEFTOVER_SECONDS) -> list[str]:
        """What interrupted backups left in ``.incoming/`` (local locations), once older than ``older_than``."""
        incoming = self.local / INCOMING if self.local else None
        if incoming is None or not incoming.is_dir():
            return []
        removed = []
        for entry in incoming.iterdir():
            if time.time() - entry.lstat().st_mtime > older_than:
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
                removed.append(entry.name)
        return removed
