"""Where classify's records and report go: checked, locked and validated before any input is
read, so that a bad destination fails in a second, not after an hour of classification, and
a user's file is never destroyed (``files`` holds the rules; this applies them to classify's
``--output``, ``--resume`` and ``--report``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO, cast

from inception_svm_client.exceptions import FileRefused, ResumeError
from inception_svm_client.files import FdWriter, check_target, open_locked, refuse_inputs
from inception_svm_client.records import read_resume_state


def open_records(path: Path, *, resume: bool, sources: Iterable[str]) -> tuple[TextIO, set[str]]:
    """``--output FILE`` open for records, locked against a second writer, and the encoded
    paths it already holds. With ``resume`` the whole file is validated first and only a
    torn last line is cut; without it the file is emptied only after the lock is held."""
    refuse_inputs(path, sources, "--output")
    fd = open_locked(path, "--output")
    try:
        if resume:
            done, complete = read_resume_state(fd, str(path))
        else:
            done, complete = set(), 0
        try:
            if os.fstat(fd).st_size != complete:
                os.ftruncate(fd, complete)
            os.lseek(fd, complete, os.SEEK_SET)
        except OSError as error:
            raise FileRefused(f"--output {path}: cannot write: {error.strerror}") from None
    except (FileRefused, ResumeError, OSError) as error:
        os.close(fd)
        if isinstance(error, OSError):
            raise ResumeError(f"cannot read {path}: {error.strerror}") from None
        raise
    return cast(TextIO, FdWriter(fd)), done


def identity(path: Path | None) -> frozenset[tuple[int, int]]:
    """The (device, inode) of an output file, for refusing it as an input (``-`` paths)."""
    if path is None:
        return frozenset()
    try:
        info = os.stat(path)
    except OSError:
        return frozenset()
    return frozenset({(info.st_dev, info.st_ino)})


def check_report(path: Path, sources: Iterable[str], output: Path | None) -> None:
    """``--report FILE`` refused up front: a directory, a device, a link, an input."""
    check_target(path, "--report")
    refuse_inputs(path, sources, "--report")
    if output is not None and os.path.abspath(output) == os.path.abspath(path):
        raise FileRefused(f"--report {path} is also the --output file: refused")
