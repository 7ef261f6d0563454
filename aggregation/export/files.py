"""Where export files go, and how none of them is ever seen half-written.

A part file is always written to a temporary name first. On a file system (the default
FileSystemStorage, or ``--output DIR``) the whole run is staged in a hidden sibling directory and
renamed into place in one ``os.replace`` once the manifest is in it: readers see all of the run or
nothing. Any other storage (S3 through django-storages, ...) gets each part uploaded under its
final name only once it is complete, and ``manifest.json`` last: a run directory without a manifest
is unfinished and is deleted by the next run.
"""

import gzip
import hashlib
import os
import queue
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage

MANIFEST_NAME = "manifest.json"
STAGING_PREFIX = ".partial-"
_WRITE_CHUNK = 2000  # lines joined per write() call


@dataclass
class PartStats:
    """What one part file holds (filled in while it is written)."""

    rows: int = 0
    updated: int = 0
    bytes: int = 0
    sha256: str = ""
    schema_versions: Counter = field(default_factory=Counter)


class _HashingSink:
    """A binary sink that hashes and counts the bytes that reach the file (compressed, if gzip)."""

    def __init__(self, raw):
        self.raw, self.hash, self.size = raw, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self):
        self.raw.flush()


def export_write_batch(
    *,
    path: Path,
    rows: Iterable,
    line: Callable[[tuple], str] | None,
    compress: bool,
    updated_before=None,
    version_index: int = 0,
    completed_index: int = 0,
    on_rows: Callable[[int], None] | None = None,
) -> PartStats:
    """Write ``rows`` as NDJSON lines to ``path`` (gzip when ``compress``) and fsync it; return its stats.

    ``line`` turns a row into its line; ``None``: the rows are ``copy_out`` rows, lines already made.
    """
    stats = PartStats()
    with open(path, "wb") as raw:
        sink = _HashingSink(raw)
        out = gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6, mtime=0) if compress else sink
        with _WriterThread(out) as writer:
            if line is None:
                _write_copied(writer, rows, stats, on_rows)
            else:
                _write_lines(writer, rows, stats, on_rows, line, updated_before, version_index, completed_index)
        if compress:
            out.close()  # writes the gzip trailer into the sink; the raw file stays open
        raw.flush()
        os.fsync(raw.fileno())
    stats.bytes, stats.sha256 = sink.size, sink.hash.hexdigest()
    return stats


class _WriterThread:
    """Compress, hash and write chunks on a thread of their own while the next rows are read.

    zlib, hashlib and file writes release the GIL, so reading the rows (the database's stream) and
    writing the file overlap instead of taking turns. At most two chunks (about 10 MB) wait in between.
    """

    def __init__(self, out):
        self._out, self._chunks, self._error = out, queue.Queue(maxsize=2), None
        self._thread = threading.Thread(target=self._run, name="export-writer", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, exc_type, exc, traceback):
        self._chunks.put(None)
        self._thread.join()
        if exc_type is None and self._error is not None:
            raise self._error

    def write(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._chunks.put(data)

    def _run(self):
        while (data := self._chunks.get()) is not None:
            if self._error is None:
                try:
                    self._out.write(data)
                except BaseException as exc:  # raised in the reading thread at its next write or at the end
                    self._error = exc


def _write_lines(out, rows, stats, on_rows, line, updated_before, version_index, completed_index) -> None:
    buffer = []
    for row in rows:
        buffer.append(line(row))
        stats.schema_versions[row[version_index]] += 1
        if updated_before is not None and row[completed_index] < updated_before:
            stats.updated += 1
        if len(buffer) == _WRITE_CHUNK:
            _flush(out, "".join(buffer).encode(), len(buffer), stats, on_rows)
            buffer.clear()
    if buffer:
        _flush(out, "".join(buffer).encode(), len(buffer), stats, on_rows)


def _write_copied(out, rows, stats, on_rows) -> None:
    # A COPY row: b"<version>\t<t|f: updated>\t<line>\n", its backslashes doubled by COPY's text format.
    buffer, versions = [], stats.schema_versions
    for row in rows:
        version, updated, text = row.split(b"\t", 2)
        versions[int(version)] += 1
        if updated == b"t":
            stats.updated += 1
        buffer.append(text)
        if len(buffer) == _WRITE_CHUNK:
            _flush(out, b"".join(buffer).replace(b"\\\\", b"\\"), len(buffer), stats, on_rows)
            buffer.clear()
    if buffer:
        _flush(out, b"".join(buffer).replace(b"\\\\", b"\\"), len(buffer), stats, on_rows)


def _flush(out, data: bytes, lines: int, stats: PartStats, on_rows) -> None:
    out.write(data)
    stats.rows += lines
    if on_rows is not None:
        on_rows(lines)


class DirectoryDestination:
    """A run staged in ``<root>/.partial-<run>/`` and renamed to ``<root>/<run>/`` when complete."""

    def __init__(self, root: Path, run_dir: str, *, file_mode: int | None = None, dir_mode: int | None = None):
        self.root, self.run_dir = Path(root), run_dir
        self.staging, self.final = self.root / f"{STAGING_PREFIX}{run_dir}", self.root / run_dir
        self.file_mode, self.dir_mode = file_mode, dir_mode

    @property
    def location(self) -> str:
        return str(self.final)

    def open(self) -> None:
        self.staging.mkdir(parents=True)

    def part_path(self, name: str) -> Path:
        return self.staging / f".{name}.tmp"

    def publish_part(self, tmp_path: Path, name: str) -> None:
        if self.file_mode is not None:
            os.chmod(tmp_path, self.file_mode)
        os.replace(tmp_path, self.staging / name)

    def publish_manifest(self, content: bytes) -> None:
        tmp_path = self.part_path(MANIFEST_NAME)
        with open(tmp_path, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        self.publish_part(tmp_path, MANIFEST_NAME)
        if self.dir_mode is not None:
            os.chmod(self.staging, self.dir_mode)
        os.replace(self.staging, self.final)  # the run appears complete, or not at all
        _fsync_directory(self.root)

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def remove_leftovers(self, abandoned_locations: list[str]) -> None:
        """Delete the staging directories of runs that died (called while holding the export lock)."""
        for leftover in self.root.glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)


class StorageDestination:
    """A run uploaded part by part to a Django storage, each only once complete, the manifest last."""

    def __init__(self, storage: Storage, run_dir: str, *, alias: str):
        self.storage, self.run_dir, self.alias = storage, run_dir, alias
        self.saved: list[str] = []
        self.tmp_dir: tempfile.TemporaryDirectory | None = None

    @property
    def location(self) -> str:
        return f"{self.alias}:{self.run_dir}"

    def open(self) -> None:
        self.tmp_dir = tempfile.TemporaryDirectory(prefix="onboarding-export-")

    def part_path(self, name: str) -> Path:
        return Path(self.tmp_dir.name) / name

    def publish_part(self, tmp_path: Path, name: str) -> None:
        with open(tmp_path, "rb") as complete:
            self.saved.append(self.storage.save(f"{self.run_dir}/{name}", File(complete, name=name)))
        tmp_path.unlink()

    def publish_manifest(self, content: bytes) -> None:
        self.saved.append(self.storage.save(f"{self.run_dir}/{MANIFEST_NAME}", ContentFile(content)))
        self.tmp_dir.cleanup()

    def abort(self) -> None:
        for name in self.saved:
            self.storage.delete(name)
        if self.tmp_dir is not None:
            self.tmp_dir.cleanup()

    def remove_leftovers(self, abandoned_locations: list[str]) -> None:
        """Delete the files of abandoned runs in this storage, unless a run got as far as its manifest."""
        for location in abandoned_locations:
            alias, _, run_dir = location.partition(":")
            if alias != self.alias or not run_dir or self.storage.exists(f"{run_dir}/{MANIFEST_NAME}"):
                continue
            _, names = self.storage.listdir(run_dir)
            for name in names:
                self.storage.delete(f"{run_dir}/{name}")


def export_destination_key(*, storage: Storage | None, alias: str, output_dir: str | None) -> str:
    """Name where a run goes, for its watermark: the resolved directory, or ``storage:<alias>``."""
    if output_dir:
        return str(Path(output_dir).resolve())
    if isinstance(storage, FileSystemStorage):
        return str(Path(storage.location).resolve())
    return f"storage:{alias}"


def export_destination(*, storage: Storage, alias: str, output_dir: str | None, run_dir: str):
    """Return where this run's files go: ``output_dir``, a file-system storage's directory, or the storage."""
    if output_dir:
        return DirectoryDestination(Path(output_dir).resolve(), run_dir)
    if isinstance(storage, FileSystemStorage):
        return DirectoryDestination(
            Path(storage.location),
            run_dir,
            file_mode=storage.file_permissions_mode,
            dir_mode=storage.directory_permissions_mode,
        )
    return StorageDestination(storage, run_dir, alias=alias)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
