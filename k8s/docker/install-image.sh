#!/bin/sh
# The one install step of each image, run by its Dockerfile and by tests/k8s/test_images.py
# (into a fresh virtual environment), so a missing dependency fails a test, not a Job.
#   install-image.sh client    the thin client: inception-svm classify|train|loadtest
#   install-image.sh exporter  the exporter: inception-svm export (TensorFlow CPU)
# Runs from the build context root (the repository root, or a copy of what the Dockerfile
# COPYs); $PYTHON is the interpreter to install into (default: python). Every version comes
# from requirements/constraints.txt.
set -eu
PYTHON="${PYTHON:-python}"
pip_install() {
    "$PYTHON" -m pip install --disable-pip-version-check --no-input --quiet \
        -c requirements/constraints.txt "$@"
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
