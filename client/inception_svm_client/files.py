"""Every file a user names, read or written the one safe way: the only module that opens them.

Reading: only regular files, opened without blocking (a FIFO without a writer would block
``open`` forever), and never more than a cap that suits what the file is (an SVM, a golden
file, a training report): ``/dev/zero`` or a 3 GB file given by mistake is refused, not read
whole into memory.

Writing: a user's file is never destroyed. A target that exists must be a regular file; a
symbolic link, a device, a FIFO or a directory is refused and left as it is (writing
*through* a link would also be possible, but then ``--output`` could clobber whatever the
link points at, ``/dev/null`` included, so we refuse and say so). An output that is one of
the inputs, or lies inside an input directory, is refused before any work starts (by inode,
so another name for the same file is caught too). Whole files (reports, the ONNX SVM,
loadtest results) are written to a temporary sibling and renamed over the target, so a
reader never sees half a file and a failed write leaves the old file intact. A streamed
output (classify's records) is opened once, locked exclusively (``flock``) so a second run
writing the same file is refused instead of interleaving lines, and only then truncated.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from inception_svm_client.exceptions import FileRefused

MIB = 1024 * 1024
# Caps for what each kind of file can legitimately hold (with a wide margin).
MAX_SVM_BYTES = 256 * MIB  # a LinearSVC over 1024 features and 1000 classes is ~4 MB
MAX_GOLDEN_BYTES = 256 * MIB  # a few base64 images and their logits
MAX_TRAINING_REPORT_BYTES = 64 * MIB  # JSON with a confusion matrix
MAX_PEM_BYTES = 1 * MIB  # a certificate chain or a key
MAX_RECORDS_BYTES = 64 * 1024 * MIB  # jsonl records, streamed (a line each, not held whole)

_log = logging.getLogger(__name__)
_NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS})
_OPEN_FLAGS = os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
)


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    return next((name for check, name in _FILE_KINDS if check(mode)), "not a regular file")


def reason(error: OSError) -> str:
    return error.strerror or str(error)


def _named(path: str | Path, what: str) -> str:
    return f"{what} {path}" if what else str(path)


def open_regular(path: str | Path, what: str) -> int:
    """A read-only descriptor of a regular file (caller closes it); never blocks."""
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except OSError as error:
        raise FileRefused(f"cannot read {_named(path, what)}: {reason(error)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileRefused(
                f"{_named(path, what)}: {file_kind(mode)}, not a regular file: refused"
            )
        _blocking(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_at_most(fd: int, limit: int) -> bytes:
    """Reads until EOF or ``limit`` bytes (a file may grow after ``fstat``)."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, MIB))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_bounded(path: str | Path, max_bytes: int, what: str) -> bytes:
    """The whole of a regular file of at most ``max_bytes``, or ``FileRefused`` saying why."""
    fd = open_regular(path, what)
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise FileRefused(
                f"{_named(path, what)}: {size} bytes is over the {max_bytes}-byte limit"
            )
        data = read_at_most(fd, max_bytes + 1)
    except OSError as error:
        raise FileRefused(f"cannot read {_named(path, what)}: {reason(error)}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise FileRefused(f"{_named(path, what)}: over the {max_bytes}-byte limit")
    return data


def check_target(path: Path, what: str) -> None:
    """Refuse a destination that is not a regular file or a new name in a directory."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise FileRefused(f"{what} {path}: cannot write: {reason(error)}") from None
    if mode is not None and not stat.S_ISREG(mode):
        raise FileRefused(
            f"{what} {path}: {file_kind(mode)}, not a regular file: refused (only a regular "
            "file or a new name is written, so nothing else can be destroyed)"
        )
    parent = path.parent
    if not parent.is_dir():
        raise FileRefused(f"{what} {path}: {parent} is not an existing directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FileRefused(f"{what} {path}: cannot write in {parent}: permission denied")


def _identity(path: str | Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def _resolved(path: str | Path) -> Path | None:
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):
        return None


def refuse_inputs(path: Path, inputs: Iterable[str | Path], what: str) -> None:
    """Refuse an output that is one of the inputs or lies inside an input directory: the
    run would overwrite what it reads (or read what it writes)."""
    own = _identity(path)
    target = _resolved(path)
    for source in inputs:
        if str(source) == "-":
            continue
        identity = _identity(source)
        if identity is None:
            continue
        if identity == own:
            raise FileRefused(f"{what} {path} is the input {source}: refused")
        if os.path.isdir(source) and target is not None:
            folder = _resolved(source)
            if folder is not None and (folder == target or folder in target.parents):
                raise FileRefused(
                    f"{what} {path} lies inside the input directory {source}: refused "
                    "(write it elsewhere)"
                )


def write_atomically(path: Path, data: bytes | str, what: str) -> None:
    """Written whole to a temporary sibling, then renamed over ``path`` (a regular file or
    a new name only); on any failure the old file is left as it was."""
    check_target(path, what)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        fd, staging = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    except OSError as error:
        raise FileRefused(f"{what} {path}: cannot write: {reason(error)}") from None
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        check_target(path, what)  # it may have become something else meanwhile
        os.replace(staging, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(staging)
        raise FileRefused(f"{what} {path}: cannot write: {reason(error)}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(staging)
        raise


def open_locked(path: Path, what: str) -> int:
    """A read-write descriptor of the regular file ``path`` (created when missing), locked
    exclusively for this process; nothing in it is changed yet."""
    check_target(path, what)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | _OPEN_FLAGS
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise FileRefused(f"{what} {path}: a symbolic link: refused") from None
        raise FileRefused(f"{what} {path}: cannot write: {reason(error)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileRefused(f"{what} {path}: {file_kind(mode)}, not a regular file: refused")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileRefused(
                f"{what} {path} is being written by another run (it holds the file's lock): "
                "wait for it to finish or choose another file"
            ) from None
        except OSError as error:
            if error.errno not in _NO_LOCKS:
                raise FileRefused(f"{what} {path}: cannot lock: {reason(error)}") from None
            # A file system without flock (some network mounts): writing unlocked beats
            # refusing every run there, and the user is told.
            _log.warning("%s %s: file locks unsupported here (%s)", what, path, reason(error))
        _blocking(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _blocking(fd: int) -> None:
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)


class FdWriter:
    """Text written straight to a descriptor, one ``os.write`` loop per call: nothing is
    buffered, so a failed write (a full disk) raises once, at the record that failed, and
    closing never tries to write it again."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def write(self, text: str) -> int:
        view = memoryview(text.encode("utf-8"))
        while view:
            view = view[os.write(self._fd, view) :]
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""

    def tell(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
