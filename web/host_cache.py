"""Pages shared by the app processes of one host: the second tier of ``web.page_cache``.

Each app process keeps its own page cache, so after every change each process renders the page again: with
8 worker processes, 8 renders of the same page. Here a process that renders a page every anonymous visitor
gets (a ``SharedPage``) also leaves it in a directory in memory (``/dev/shm``); a process that misses the
page in its own cache looks there before it renders.

How fresh: as fresh as the process's own cache (``consultation.changes``). A page found here was made by
another process, whose clock is not this one's, so it carries the wall-clock time its load began and the tables
it read. It is taken only while the change feed listens (then this process hears every other process's
writes), only if it is younger than the cache's lifetime, and only if none of its tables changed, as far as
this process knows, since a little before that time (``changes.changed_after``). The processes of a host
share its clock; processes on other hosts never share a directory.

Safety: the directory is made for the app's user alone (mode 0700) and refused if anyone else owns it or may
write in it; each file is read only if it is the app user's alone too (the directory could be removed and made
again by someone else while the app runs), so no other user of the host can put a page there. Each file names
the build (``build``: the code, templates and static files), the cache and the key it was stored for, and is
read back only for those: the old processes of a reload never hand their pages to the new ones. A full or
missing directory only costs renders: every error here is a miss.

Size: only the caches named in ``SHARED`` use it, each up to ``MAX_BYTES`` (or a quarter of the file system,
if that is less). A process that stores a page removes the expired files at most every ``SWEEP_SECONDS``, and,
when the bound would be passed, the oldest files down to three quarters of it. Each process counts only its own
stores between sweeps, so several can pass the bound for a few seconds.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import stat
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web.settings import PROJECT_ROOT
from web.shared_page import SharedPage

log = logging.getLogger(__name__)

# Caches whose pages the processes share. Their keys are addresses, so not bounded by the number of areas
# (another Host header, ``/areas/007``): the byte bound holds them.
SHARED = frozenset({"area_page"})
MAX_BYTES = 64 * 1024 * 1024  # per cache; tmpfs is memory (a container's /dev/shm may hold only 64 MiB)
SWEEP_SECONDS = 10.0
MAX_AGE_SECONDS = 60.0  # web.page_cache.LISTENED_TTL: no process takes an older page, so a sweep removes it
SKEW_SECONDS = 0.01  # a change heard this long before a page's load began still makes it stale
_MAGIC = b"YSP1"
_HEAD = struct.Struct("<4sdIIII")  # magic, loaded_at (wall clock), key bytes, tables bytes, parts, page size


@dataclass(frozen=True, slots=True)
class Found:
    loaded_at: float  # time.time() when the load that made it began
    tables: frozenset[str]
    page: SharedPage


def encode(key: bytes, loaded_at: float, tables: frozenset[str], page: SharedPage) -> bytes:
    names = "\0".join(sorted(tables)).encode()
    lengths = struct.pack(f"<{2 * len(page.parts)}I", *map(len, page.parts), *map(len, page.deflated))
    return b"".join((_HEAD.pack(_MAGIC, loaded_at, len(key), len(names), len(page.parts), page.size), key, names,
                     lengths, *page.parts, *page.deflated))


def decode(data: bytes, key: bytes) -> Found | None:
    """The page stored in ``data`` for ``key``; None for another key's page or a damaged file."""
    try:
        magic, loaded_at, key_len, names_len, count, size = _HEAD.unpack_from(data)
        if magic != _MAGIC:
            return None
        at = _HEAD.size
        if data[at:at + key_len] != key:
            return None
        at += key_len
        names = data[at:at + names_len].decode()
        at += names_len
        lengths = struct.unpack_from(f"<{2 * count}I", data, at)
        at += 4 * 2 * count
        pieces = []
        for length in lengths:
            pieces.append(data[at:at + length])
            at += length
        if at != len(data):
            return None
    except (struct.error, UnicodeDecodeError):
        return None
    tables = frozenset(names.split("\0")) if names else frozenset()
    return Found(loaded_at, tables, SharedPage(tuple(pieces[:count]), tuple(pieces[count:]), size))


class HostCache:
    """The shared directory of one database's pages: ``root/<cache name>/<hash of the key>``."""

    def __init__(self, root: Path, max_bytes: int = MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        with contextlib.suppress(OSError):  # a small /dev/shm (a container's: 64 MiB) is shared with others
            space = os.statvfs(root)
            self.max_bytes = min(max_bytes, space.f_frsize * space.f_blocks // 4)
        self._swept: dict[str, float] = {}
        self._stored: dict[str, int] = {}  # bytes stored by this process since its last sweep, per cache
        self._sizes: dict[str, int] = {}  # bytes the last sweep found, per cache

    @classmethod
    def open(cls, root: Path) -> HostCache | None:
        """The directory, made if needed; None (with a warning) when it cannot be made or is not the app
        user's alone."""
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = root.lstat()  # a symbolic link is refused: it may lead anywhere
        except OSError as exc:
            log.warning("pages are not shared between processes: cannot make %s (%s)", root, exc)
            return None
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            log.warning("pages are not shared between processes: %s is not a directory of this user alone", root)
            return None
        build()  # read now, not on the first request
        return cls(root)

    @staticmethod
    def key_bytes(cache: str, key: Any) -> bytes:
        """The cache, the key and the build: a page rendered by processes running other code (the old workers
        of a reload) is never taken."""
        return repr((build(), cache, key)).encode()

    def _path(self, cache: str, key_bytes: bytes) -> Path:
        return self.root / cache / hashlib.sha256(key_bytes).hexdigest()

    def read(self, cache: str, key: Any) -> Found | None:
        """The page stored for ``key``, if its file is this user's alone (the directory is checked when it is
        opened, and could be removed and made again by someone else later)."""
        key_bytes = self.key_bytes(cache, key)
        try:
            fd = os.open(self._path(cache, key_bytes), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if info.st_uid != os.getuid() or info.st_mode & 0o077 or not stat.S_ISREG(info.st_mode):
                return None
            with os.fdopen(fd, "rb", closefd=False) as source:
                data = source.read()
        except OSError:
            return None
        finally:
            os.close(fd)
        return decode(data, key_bytes)

    def write(self, cache: str, key: Any, loaded_at: float, tables: frozenset[str], page: SharedPage) -> None:
        key_bytes = self.key_bytes(cache, key)
        data = encode(key_bytes, loaded_at, tables, page)
        path = self._path(cache, key_bytes)
        self._sweep(cache, len(data))
        if self._sizes.get(cache, 0) + self._stored.get(cache, 0) + len(data) > self.max_bytes:
            return  # full until the next sweep
        spare = path.with_name(f".{path.name}.{os.getpid()}")
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(spare, path)  # readers see the old file or the new one, never half of one
        except OSError as exc:
            log.debug("could not share a page (%s)", exc)
            with contextlib.suppress(OSError):
                spare.unlink()
            return
        self._stored[cache] = self._stored.get(cache, 0) + len(data)

    def _sweep(self, cache: str, adding: int, max_age: float = MAX_AGE_SECONDS) -> None:
        """At most every ``SWEEP_SECONDS``, or when this store would pass the bound: remove the files older than
        ``max_age`` (no process would take them), then, if the cache is over its bound, the oldest until it is
        at three quarters of it."""
        now = time.time()
        known = self._sizes.get(cache, 0) + self._stored.get(cache, 0) + adding
        if now - self._swept.get(cache, 0.0) < SWEEP_SECONDS and known <= self.max_bytes:
            return
        self._swept[cache] = now
        files: list[tuple[float, int, Path]] = []
        try:
            entries = list(os.scandir(self.root / cache))
        except OSError:
            entries = []
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if now - info.st_mtime > max_age:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
            else:
                files.append((info.st_mtime, info.st_size, Path(entry.path)))
        total = sum(size for _, size, _ in files)
        files.sort()
        if total + adding > self.max_bytes:  # down to three quarters, so the next stores do not sweep again
            while files and total + adding > self.max_bytes * 3 // 4:
                _, size, path = files.pop(0)
                with contextlib.suppress(OSError):
                    path.unlink()
                total -= size
        self._sizes[cache] = total
        self._stored[cache] = 0


BUILD_SOURCES = ("web", "consultation", "search", "templates", "static")  # what makes a page, under the project


@functools.cache
def build() -> str:
    """A fingerprint of the code, templates, translations and static files this process runs (read once, at
    start: about 20 ms): the processes of one deployment share pages, an old one still running beside a new one does
    not."""
    digest = hashlib.sha256()
    for folder in BUILD_SOURCES:
        for path in sorted((PROJECT_ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix not in (".pyc", ".mo") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0")
                with contextlib.suppress(OSError):
                    digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def default_root(database_url: str) -> Path | None:
    """``/dev/shm/yishiting-pages-<uid>-<hash of the database URL>``: one directory per database and user, so
    that two sites on one host never share pages; None where there is no ``/dev/shm``."""
    shm = Path("/dev/shm")  # noqa: S108 - HostCache.open refuses a directory that is not this user's alone
    if not shm.is_dir():
        return None
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return shm / f"yishiting-pages-{os.getuid()}-{digest}"
