"""A run's folder: checked before the search, locked while the run lives, replaced whole.

What a run promises about ``--out DIR``:

- *before any search*: the path is usable (not empty, not under a file, its parent
  writable), no other run is writing to it (a lock beside it, ``.DIR.lock``, held with
  flock for the whole run and released by the kernel if the process dies), and it holds
  nothing a run would destroy: an earlier run only with ``--force``, and files that no
  run wrote (anything not listed in a run's manifest, ``.trajcheck-run.json``) only with
  ``--force``, and then they are kept;
- *at every instant* the folder shows either the earlier run or the new one, whole: the
  new run is written into a fresh sibling (``.DIR.new.*``) which is then exchanged with
  the folder in one system call (Linux ``renameat2(RENAME_EXCHANGE)``); where the
  filesystem cannot exchange, two renames leave a moment with no folder, which the next
  run repairs from ``.DIR.old.*``;
- leftovers of a run killed on the way (``.DIR.new.*``, ``.DIR.old.*``) are put back or
  removed by the next run into the same folder, which says so on stderr;
- an interrupted run writes nothing: folders it created for ``--out`` are removed again.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from trajcheck.interrupts import checkpoint, deferred

MANIFEST = ".trajcheck-run.json"
RESULTS = "results.json"
COUNTEREXAMPLES = "counterexamples"
#: What a run writes besides its counterexamples (runs older than the manifest too).
RUN_FILES = (RESULTS, "report.md", "report.html", "summary.csv")


class FolderProblem(Exception):
    """The folder cannot take the run: one line for the user, exit 2."""


def _warn(message: str) -> None:
    print(f"trajcheck: {message}", file=sys.stderr)


# Locking ---------------------------------------------------------------------------------


#: The lock inside a folder whose parent cannot take one (a volume under a read-only root).
INNER_LOCK = ".trajcheck.lock"


def _lock_path(folder: Path) -> Path:
    """Beside the folder, so that it outlives the swap; inside it where the parent cannot
    be written (such a folder is written in place, never swapped)."""
    if folder.is_dir() and not os.access(folder.parent, os.W_OK):
        return folder / INNER_LOCK
    return folder.parent / f".{folder.name}.lock"


def _acquire(path: Path, folder: Path) -> int:
    """An exclusive flock on ``path``; FolderProblem when another process holds it."""
    while True:
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise FolderProblem(
                f"--out {folder}: cannot make its lock {path} ({exc.strerror})"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise FolderProblem(
                f"--out {folder}: another run is writing to it (lock {path}); wait for it "
                "to finish or choose another folder"
            ) from None
        # The holder before us may have removed the file after we opened it: our lock is
        # then on a file nobody else sees, so take the one at the path instead.
        try:
            current = os.stat(path)
        except FileNotFoundError:
            os.close(handle)
            continue
        mine = os.fstat(handle)
        if (mine.st_dev, mine.st_ino) == (current.st_dev, current.st_ino):
            return handle
        os.close(handle)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the lock of an existing run folder for the block (``trajcheck report``)."""
    folder = Path(folder)
    handle = _acquire(_lock_path(folder), folder)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(_lock_path(folder))
        os.close(handle)


def is_locked(folder: Path) -> bool:
    """Whether a live process holds the lock of ``folder``."""
    path = _lock_path(Path(folder))
    if not path.exists():
        return False
    try:
        handle = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(handle)
    return False


# What a folder holds ---------------------------------------------------------------------


def _relative_files(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if not path.is_dir()} - {
        MANIFEST,
        INNER_LOCK,
    }


def counterexample_name(identifier: str) -> str:
    """A file name for a claim or mutant id (ids hold letters, digits, '.', '_', '-', '~')."""
    return re.sub(r"[^A-Za-z0-9._~-]", "_", identifier) + ".json"


def _legacy_run_files(folder: Path) -> set[str]:
    """The files of a run written before the manifest: its known names, and the
    counterexamples its results.json names."""
    files = {name for name in RUN_FILES if (folder / name).is_file()}
    try:
        document = json.loads((folder / RESULTS).read_text(encoding="utf-8"))
        names = {
            counterexample_name(searched["id"])
            for claim in document["claims"]
            for searched in [claim, *claim["mutants"]]
            if searched.get("counterexample")
        }
    except Exception:  # an unreadable run still owns its known names, nothing more
        names = set()
    return files | {f"{COUNTEREXAMPLES}/{name}" for name in names}


def run_files(folder: Path) -> set[str] | None:
    """The files a run wrote in ``folder`` (relative paths), or None when it holds none."""
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
            return {str(name) for name in listed if isinstance(name, str)}
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if (folder / RESULTS).is_file():
        return _legacy_run_files(folder)
    return None


def holds_a_run(folder: Path) -> bool:
    return run_files(Path(folder)) is not None


# Preparing, writing, abandoning ----------------------------------------------------------


@dataclass
class RunFolder:
    """A folder prepared for a run: checked, locked, its foreign files known."""

    path: Path
    lock: int
    created: list[Path] = field(default_factory=list)  # ancestors this run made
    foreign: set[str] = field(default_factory=set)  # files to carry over untouched
    #: the folder cannot be renamed (a mount point, a parent that cannot be written): the
    #: run is written into it file by file, results.json last, each file whole
    in_place: bool = False

    def release(self, *, keep_created: bool) -> None:
        """Drop the lock; unless the run was written, remove the folders it created."""
        with contextlib.suppress(OSError):
            os.unlink(_lock_path(self.path))
        os.close(self.lock)
        if not keep_created:
            _remove_empty(self.created)


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders a run created for its --out, deepest first, where still empty."""
    for made in reversed(created):
        with contextlib.suppress(OSError):
            made.rmdir()


def _missing_ancestors(folder: Path) -> tuple[Path, list[Path]]:
    """The nearest existing ancestor of ``folder``'s parent, and the folders below it."""
    missing = []
    current = folder.parent
    while not current.exists():
        if current == current.parent:
            break
        missing.append(current)
        current = current.parent
    return current, list(reversed(missing))


def _probe(where: Path, folder: Path, make_folder: bool) -> None:
    """Do, on a scratch entry in ``where``, what a commit will do there: create it,
    rename it, remove it. FolderProblem (one line) when the filesystem refuses."""
    prefix = f".{folder.name}.probe."
    made: Path | None = None
    try:
        if make_folder:
            made = Path(tempfile.mkdtemp(prefix=prefix, dir=where))
        else:
            handle, name = tempfile.mkstemp(prefix=prefix, dir=where)
            os.close(handle)
            made = Path(name)
        renamed = made.with_name(made.name + ".renamed")
        os.rename(made, renamed)
        made = renamed
    except OSError as exc:
        raise FolderProblem(f"--out {folder}: cannot write in {where} ({exc.strerror})") from None
    finally:
        if made is not None:
            with contextlib.suppress(OSError):
                made.rmdir() if make_folder else made.unlink()


def _check_writable(parent: Path, folder: Path) -> bool:
    """Probe the operations the commit will use, before any search; whether the run must
    be written in place (the folder itself cannot be exchanged: a mount point, such as a
    container's volume, or a parent the run may not change)."""
    if folder.is_dir() and (os.path.ismount(folder) or not os.access(parent, os.W_OK)):
        _probe(folder, folder, make_folder=False)
        return True
    _probe(parent, folder, make_folder=True)
    return False


def _recover(folder: Path) -> None:
    """Put back or tidy away what a run killed on the way left beside ``folder``."""
    parent = folder.parent
    old = sorted(parent.glob(f".{folder.name}.old.*"))
    new = sorted(parent.glob(f".{folder.name}.new.*"))
    if not folder.exists() and old:
        os.rename(old[0], folder)
        _warn(f"restored {folder} from {old[0].name}, left by a run killed while replacing it")
        old = old[1:]
    for leftover in [*old, *new]:
        _retire(leftover, folder)
        _warn(f"removed {leftover}, left by a run killed while writing {folder}")


def _same_file(first: Path, second: Path) -> bool:
    """The same data: one inode (a hard link), or equal bytes (a copy)."""
    try:
        a, b = first.stat(), second.stat()
        if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
            return True
        return a.st_size == b.st_size and first.read_bytes() == second.read_bytes()
    except OSError:
        return False


def _retire(retired: Path, folder: Path) -> None:
    """Empty a folder that stopped being the run's (the one swapped out, or a leftover)
    of what runs wrote, and nothing else: a file that no run wrote (one a user saved into
    the folder while the run searched, after the check of its contents) moves into
    ``folder``; where a run's file took its name there, the retired folder stays under a
    visible name. A run removes only the files its manifest, or an older run's, lists."""
    owned = run_files(retired) or set()
    moved: list[str] = []
    clashes: list[str] = []
    files = sorted(p for p in retired.rglob("*") if p.is_file() or p.is_symlink())
    for path in files:
        name = str(path.relative_to(retired))
        target = folder / name
        if name == MANIFEST or name in owned or _same_file(path, target):
            path.unlink()
        elif folder.is_dir() and not os.path.lexists(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(path, target)
            moved.append(name)
        else:
            clashes.append(name)
    for sub in sorted((p for p in retired.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            sub.rmdir()
    try:
        retired.rmdir()
    except OSError:  # something is still in it: a clash, or a file saved this instant
        kept = retired.with_name(f"{folder.name}.kept-{os.getpid()}-{retired.name[-8:]}")
        with contextlib.suppress(OSError):
            os.rename(retired, kept)
            retired = kept
        _warn(
            f"kept {retired}: it holds files that no run wrote, saved into {folder} during "
            f"the run ({', '.join(clashes[:3]) or 'written just now'})"
        )
    if moved:
        shown = ", ".join(moved[:3]) + (", ..." if len(moved) > 3 else "")
        _warn(f"kept {len(moved)} file(s) saved into {folder} during the run: {shown}")


def prepare(out: Path | str, *, force: bool, will_write: Iterable[str] = ()) -> RunFolder:
    """Check ``out`` for a run before it starts, and lock it; FolderProblem if it cannot
    take one. ``will_write``: the relative paths the run may write, which must not be
    files that no run wrote, even with --force."""
    if str(out) == "":
        raise FolderProblem("--out '': the folder name is empty")
    # absolute, so that "." and ".." have a name and a parent to swap in; a link is
    # followed, so that the run replaces the folder and not the link to it
    folder = Path(os.path.abspath(out))
    if folder.is_symlink():
        folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise FolderProblem(f"--out {folder}: exists and is not a folder")
    existing, missing = _missing_ancestors(folder)
    if not existing.is_dir():
        raise FolderProblem(f"--out {folder}: {existing} is a file, not a folder")
    created: list[Path] = []
    try:
        for ancestor in missing:
            ancestor.mkdir()
            created.append(ancestor)
        in_place = _check_writable(folder.parent, folder)
    except (OSError, FolderProblem) as exc:
        _remove_empty(created)
        if isinstance(exc, FolderProblem):
            raise
        raise FolderProblem(
            f"--out {folder}: cannot create {exc.filename} ({exc.strerror})"
        ) from None
    try:
        lock = _acquire(_lock_path(folder), folder)
    except BaseException:
        _remove_empty(created)
        raise
    prepared = RunFolder(folder, lock, created, in_place=in_place)
    try:
        _recover(folder)
        _check_contents(prepared, force, set(will_write))
    except BaseException:
        prepared.release(keep_created=False)
        raise
    return prepared


def _check_contents(prepared: RunFolder, force: bool, will_write: set[str]) -> None:
    folder = prepared.path
    if not folder.is_dir():
        return
    present = _relative_files(folder)
    owned = run_files(folder)
    foreign = present - (owned or set())
    if owned is not None and not force:
        raise FolderProblem(
            f"--out {folder} already holds a run; pass --force to replace it, or choose "
            "another folder"
        )
    if foreign and not force:
        shown = ", ".join(sorted(foreign)[:3]) + (", ..." if len(foreign) > 3 else "")
        raise FolderProblem(
            f"--out {folder} holds files that no trajcheck run wrote ({shown}); choose "
            "another folder, or pass --force to write the run beside them"
        )
    clashes = sorted(foreign & will_write)
    if clashes:
        raise FolderProblem(
            f"--out {folder}: {', '.join(clashes)} was not written by a trajcheck run, and "
            "the run would overwrite it (even --force keeps such files); move it away"
        )
    prepared.foreign = foreign


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directory entries atomically (Linux renameat2); False where unsupported.

    The standard library has no atomic exchange, hence the system call through ctypes."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    if (
        renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
        == 0
    ):
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _stage(prepared: RunFolder, staging: Path, files: Mapping[str, str]) -> None:
    """Fill ``staging`` with a complete copy of the folder-to-be: the run's files, its
    manifest, and hard links to the foreign files (the folder's own files stay where they
    are until the swap)."""
    folder = prepared.path
    os.chmod(staging, _folder_mode(folder))  # mkdtemp makes it private (0700)
    # the manifest first: a staging folder left by a kill lists what it holds, so that the
    # next run removes exactly those files (``_retire``) and nothing else
    manifest = {"format": 1, "files": sorted(files)}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    for name, text in files.items():
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for name in prepared.foreign:
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(folder / name, target)
        except FileNotFoundError:  # the user took it away during the run
            continue
        except OSError:
            shutil.copy2(folder / name, target)


def _folder_mode(folder: Path) -> int:
    """The permissions the run's folder keeps: its own when it exists, else what mkdir
    gives under the process's umask."""
    if folder.is_dir():
        return folder.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def commit(prepared: RunFolder, files: Mapping[str, str]) -> None:
    """Make ``files`` (relative path -> text) the folder's run, all at once.

    The last check for an interrupt comes just before the swap; the swap itself is not
    interrupted (an interrupt then is recorded and the run completes). A failure (a full
    disk) raises OSError with the folder as it was and no staging folder left behind.
    """
    if prepared.in_place:
        _write_in_place(prepared, files)
        return
    folder = prepared.path
    # made here, so that whatever fails while it is filled, the finally removes it
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new.", dir=folder.parent))
    swapped = False
    try:
        _stage(prepared, staging, files)
        with deferred():
            checkpoint()
            if not folder.exists():
                os.rename(staging, folder)
                swapped = True
                return
            if _exchange(staging, folder):
                swapped, retired = True, staging
            else:  # two renames: the next run repairs the moment in between if killed
                retired = staging.with_name(staging.name.replace(".new.", ".old.", 1))
                os.rename(folder, retired)
                try:
                    os.rename(staging, folder)
                except BaseException:
                    os.rename(retired, folder)
                    raise
                swapped = True
        _retire(retired, folder)
    finally:
        if not swapped:
            shutil.rmtree(staging, ignore_errors=True)


def _write_in_place(prepared: RunFolder, files: Mapping[str, str]) -> None:
    """The run written into a folder that cannot be swapped: each file whole (temporary
    file and rename inside the folder), results.json and the manifest last, so that
    results.json is always one run's, whole; then the earlier run's files that this one
    did not write again are removed (only those: a run removes what runs wrote)."""
    folder = prepared.path
    earlier = run_files(folder) or set()
    last = [RESULTS] if RESULTS in files else []
    for name in [*(n for n in files if n not in last), *last]:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(target, files[name])
    manifest = {"format": 1, "files": sorted(files)}
    write_text_atomically(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    for name in sorted(earlier - set(files)):
        with contextlib.suppress(OSError):
            (folder / name).unlink()
    with contextlib.suppress(OSError):
        (folder / COUNTEREXAMPLES).rmdir()  # only when empty


def record_files(folder: Path, files: Iterable[str]) -> None:
    """Add ``files`` to the manifest of the run in ``folder`` (``trajcheck report`` may
    write a render an older run lacked)."""
    owned = run_files(folder) or set()
    manifest = {"format": 1, "files": sorted(owned | set(files))}
    write_text_atomically(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def _file_mode() -> int:
    """What open() gives a new file under the process's umask (mkstemp's is 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_text_atomically(path: Path, text: str) -> None:
    """Replace one file whole (temporary file beside it, then rename), with the mode a
    plain write would give it: the one it has, or the umask's for a new file."""
    handle, staged = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        try:
            mode = path.stat().st_mode & 0o7777
        except OSError:
            mode = _file_mode()
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(staged, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staged)
        raise
