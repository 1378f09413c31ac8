"""Find, fetch and validate the Inception v1 checkpoint.

Accepts the official release as it comes (tarball, bare V1 ``.ckpt`` file, a V2 prefix or
an https URL) and turns every way it can be wrong into one ``CheckpointError`` whose
message names the problem, so the CLI can print one line instead of a traceback.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from inception_svm_export.architecture import official_variables
from inception_svm_export.exceptions import CheckpointError

HOW_TO_PROVIDE = (
    "download https://download.tensorflow.org/models/inception_v1_2016_08_28.tar.gz "
    "on a machine with internet access and pass --checkpoint PATH (the .tar.gz, the "
    "inception_v1.ckpt inside it, or a V2 checkpoint prefix)"
)
# Written by TF's savers next to the model variables; not part of the model.
BOOKKEEPING_VARIABLES = frozenset({"global_step", "_CHECKPOINTABLE_OBJECT_GRAPH"})
_DOWNLOAD_TIMEOUT_S = 60
_CHUNK = 1 << 20


def resolve_checkpoint(
    source: str, *, cache_dir: Path, sha256: str | None = None, show_progress: bool = True
) -> str:
    """Any accepted ``source`` → a path ``tf.train.load_checkpoint`` reads (file or prefix)."""
    if source.startswith(("https://", "http://")):
        local = _download(source, cache_dir, sha256, show_progress)
    else:
        local = Path(source).expanduser()
        if sha256 is not None:
            if not local.is_file():
                raise CheckpointError(f"--sha256 needs a single file, but {source} is not one")
            _verify_sha256(local, sha256)
    if local.is_dir():
        return _checkpoint_in_directory(local)
    if local.is_file():
        if tarfile.is_tarfile(local):
            # With ``sha256`` the file was just checked against it: no second pass over it.
            digest = _sha256(local) if sha256 is None else _normalised(sha256)
            return _extract_tarball(local, cache_dir, digest)
        if local.suffix == ".index":
            return str(local.with_suffix(""))
        return str(local)
    if Path(f"{local}.index").is_file():
        return str(local)
    raise CheckpointError(f"checkpoint {source} not found; {HOW_TO_PROVIDE}")


def load_checkpoint(path: str) -> dict[str, np.ndarray]:
    """Every official variable as float32, after checking names, shapes and dtypes."""
    import tensorflow as tf  # deferred: only needed once a checkpoint is actually read

    expected = official_variables()
    try:
        reader = tf.train.load_checkpoint(path)
        shapes = {
            name: tuple(shape)
            for name, shape in reader.get_variable_to_shape_map().items()
            if name not in BOOKKEEPING_VARIABLES
        }
        dtypes = reader.get_variable_to_dtype_map()
        _check_variables(path, shapes, {n: dtypes[n].name for n in shapes}, expected)
        return {name: np.asarray(reader.get_tensor(name), np.float32) for name in expected}
    except tf.errors.OpError as error:
        reason = error.message.splitlines()[0] if error.message else type(error).__name__
        raise CheckpointError(f"{path} is not a readable TensorFlow checkpoint: {reason}") from None


def _check_variables(
    path: str,
    shapes: dict[str, tuple[int, ...]],
    dtypes: dict[str, str],
    expected: dict[str, tuple[int, ...]],
) -> None:
    problems: list[str] = []
    missing = sorted(set(expected) - set(shapes))
    extra = sorted(set(shapes) - set(expected))
    if missing:
        problems.append(f"missing variables: {_listing(missing)}")
    if extra:
        problems.append(f"unexpected variables: {_listing(extra)}")
    misshaped = [
        f"{name} has shape {list(shapes[name])}, expected {list(want)}"
        for name, want in expected.items()
        if name in shapes and shapes[name] != want
    ]
    if misshaped:
        problems.append(f"wrong shapes: {_listing(misshaped)}")
    wrong_dtype = [f"{n} is {dtypes[n]}" for n in expected if dtypes.get(n, "float32") != "float32"]
    if wrong_dtype:
        problems.append(f"not float32: {_listing(wrong_dtype)}")
    if problems:
        raise CheckpointError(
            f"{path} is not an Inception v1 checkpoint (inception_v1_2016_08_28): "
            + "; ".join(problems)
        )


def _listing(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


def _download(url: str, cache_dir: Path, sha256: str | None, show_progress: bool) -> Path:
    """Fetch ``url`` into the cache once; a cached file is reused if it passes ``sha256``."""
    from tqdm import tqdm

    target = download_target(url, cache_dir)
    if target.is_file():
        if sha256 is not None:
            _verify_sha256(target, sha256)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with (
            urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response,
            partial.open("wb") as out,
            tqdm(
                total=int(response.headers.get("Content-Length") or 0) or None,
                unit="B",
                unit_scale=True,
                desc=f"downloading {target.name}",
                disable=not show_progress,
            ) as progress,
        ):
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                progress.update(len(chunk))
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise CheckpointError(f"could not download {url} ({reason}); {HOW_TO_PROVIDE}") from None
    if sha256 is not None:
        try:
            _verify_sha256(partial, sha256)
        except CheckpointError:
            partial.unlink(missing_ok=True)
            raise
    partial.rename(target)
    return target


def download_target(url: str, cache_dir: Path) -> Path:
    """Where ``url`` is cached: its file name under ``cache_dir``."""
    return cache_dir.expanduser() / url.rstrip("/").rsplit("/", 1)[-1]


def _normalised(sha256: str) -> str:
    return sha256.strip().lower()


def _verify_sha256(path: Path, expected: str) -> None:
    digest = _sha256(path)
    if digest != _normalised(expected):
        raise CheckpointError(f"{path} has sha256 {digest}, expected {expected}")


def sha256_files(paths: list[Path]) -> str:
    """One digest over the files' bytes in order (a V2 checkpoint is several files)."""
    hasher = hashlib.sha256()
    for path in paths:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                hasher.update(chunk)
    return hasher.hexdigest()


def _sha256(path: Path) -> str:
    return sha256_files([path])


def _extract_tarball(tarball: Path, cache_dir: Path, sha256: str) -> str:
    """Unpack the checkpoint files once per tarball content (its ``sha256``) into the cache."""
    destination = cache_dir.expanduser() / "extracted" / sha256[:16]
    if not destination.is_dir():
        destination.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=destination.parent, prefix=".extracting-"))
        try:
            with tarfile.open(tarball) as archive:
                members = [m for m in archive.getmembers() if m.isfile() and ".ckpt" in m.name]
                if not members:
                    raise CheckpointError(f"{tarball} holds no .ckpt file")
                archive.extractall(staging, members=members, filter="data")
            staging.rename(destination)
        except (tarfile.TarError, EOFError, OSError) as error:
            raise CheckpointError(f"{tarball} is not a readable tarball: {error}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return _checkpoint_in_directory(destination)


def _checkpoint_in_directory(directory: Path) -> str:
    v2_indexes = sorted(directory.rglob("*.index"))
    v1_files = sorted(p for p in directory.rglob("*.ckpt") if p.is_file())
    candidates = [str(p.with_suffix("")) for p in v2_indexes] + [str(p) for p in v1_files]
    if len(candidates) != 1:
        found = ", ".join(candidates) or "nothing"
        raise CheckpointError(f"expected one checkpoint in {directory}, found {found}")
    return candidates[0]
