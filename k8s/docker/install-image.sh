#!/bin/sh
# The one install step of each image, run by its Dockerfile and by tests/k8s/test_images.py
# (into a fresh virtual environment), so a missing dependency fails a test, not a Job.
#   install-image.sh client    the thin client: inception-svm classify|train|loadtest
#   install-image.sh exporter  the exporter: inception-svm export (TensorFlow CPU)
# Runs from the build context root (the repository root, or a copy of what the Dockerfile
# COPYs); $PYTHON is the interpreter to install into (default: python). Every version comes
# from requirements/constraints.txt.
# $WHEELHOUSE (optional; the tests set it, the images do not): a directory of wheels that
# is filled on first use and then installed from without the index, like a CI wheel cache,
# so that repeated test runs do not download TensorFlow again.
set -eu
PYTHON="${PYTHON:-python}"
WHEELHOUSE="${WHEELHOUSE:-}"
pip() {
    "$PYTHON" -m pip --disable-pip-version-check --no-input --quiet "$@"
}
pip_install() {
    if [ -n "$WHEELHOUSE" ]; then
        # setuptools/wheel: the local projects' build requirements, for index-less builds.
        pip download --no-index --find-links "$WHEELHOUSE" -d "$WHEELHOUSE" \
            -c requirements/constraints.txt "setuptools>=68" wheel "$@" >/dev/null 2>&1 ||
            pip download --find-links "$WHEELHOUSE" -d "$WHEELHOUSE" \
                -c requirements/constraints.txt "setuptools>=68" wheel "$@"
        pip install --no-index --find-links "$WHEELHOUSE" -c requirements/constraints.txt "$@"
    else
        pip install -c requirements/constraints.txt "$@"
    fi
}
case "${1:-}" in
    client)
        pip_install ./client
        # The thin client must stay free of TensorFlow.
        "$PYTHON" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('tensorflow') is not None)" ||
            { echo "install-image: TensorFlow got into the client image" >&2; exit 1; }
        ;;
    exporter)
        pip_install './client[train]' .
        pip_install --no-deps -r requirements/exporter-no-deps.txt
        # Import what `export` imports lazily, so a missing module fails the build.
        "$PYTHON" -c "import inception_svm_export.saved_model, inception_svm_export.warmup"
        ;;
    *)
        echo "usage: install-image.sh client|exporter" >&2
        exit 2
        ;;
esac
"$PYTHON" -m inception_svm_client.cli --help >/dev/null
