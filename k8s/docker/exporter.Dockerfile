# syntax=docker/dockerfile:1
# One-shot exporter: TF-Slim checkpoint -> TF Serving SavedModel version dir, with its
# SHA256SUMS written by the exporter inside the staging dir. Build from the repository root:
#   docker build -f k8s/docker/exporter.Dockerfile -t inception-svm-exporter:0.1.0 .
# Run (see k8s/examples/exporter-job):
#   inception-svm export --checkpoint URL_OR_TARBALL --model-dir /export/inception_v1 --version 1
# The install step is k8s/docker/install-image.sh, which tests/k8s/test_images.py runs into
# a fresh virtual environment from a copy of exactly the files COPYed below, then exports a
# real SavedModel with it.
#
# Base image: pinned by tag. Its digest could not be established from the build machine (no
# registry access); pin it with `docker buildx imagetools inspect python:3.11.14-slim-bookworm`
# and `--build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest>`.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HOME=/tmp
WORKDIR /src
COPY requirements/constraints.txt requirements/constraints.txt
COPY requirements/exporter-no-deps.txt requirements/exporter-no-deps.txt
COPY pyproject.toml pyproject.toml
COPY client client
COPY export export
COPY serving serving
COPY k8s/docker/install-image.sh k8s/docker/install-image.sh
RUN sh k8s/docker/install-image.sh exporter \
    && mkdir -p /opt/inception-svm/serving \
    && cp serving/batching_parameters.txt serving/batching_parameters_gpu.txt /opt/inception-svm/serving/ \
    && rm -rf /src
# Numeric so that runAsNonRoot can verify it without an /etc/passwd lookup.
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["inception-svm"]
CMD ["export", "--help"]
