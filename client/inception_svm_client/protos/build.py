"""Compile the minimal ``.proto`` files into the checked-in ``descriptors.binpb``.

Why a FileDescriptorSet rather than generated ``*_pb2.py`` modules: generated modules
register ``tensorflow.TensorProto`` & co. in protobuf's default pool, which collides with
TF Serving's official stubs in the same process. A descriptor set is loaded into a private
pool instead (see ``__init__``). grpcio-tools is a dev-only dependency: only this script
needs it. Run with ``python -m inception_svm_client.protos.build`` (``make protos``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
DESCRIPTORS_PATH = PROTO_ROOT / "descriptors.binpb"


def proto_files() -> list[str]:
    """Relative paths, sorted, so the output does not depend on directory listing order."""
    return sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))


def compile_descriptors(output: Path) -> None:
    from importlib.resources import files

    from grpc_tools import protoc

    well_known = str(files("grpc_tools") / "_proto")
    argv = [
        "protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={well_known}",
        f"--descriptor_set_out={output}",
        "--include_imports",
        *proto_files(),
    ]
    if protoc.main(argv) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(argv)}")


def build_to_bytes() -> bytes:
    """Compile into a temporary file; the up-to-date test compares this to the checked-in one."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "descriptors.binpb"
        compile_descriptors(out)
        return out.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DESCRIPTORS_PATH)
    args = parser.parse_args(argv)
    args.output.write_bytes(build_to_bytes())
    print(f"wrote {args.output} ({len(proto_files())} proto files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
