# syntax=docker/dockerfile:1
# The thin client: `inception-svm classify|train|loadtest`. No TensorFlow inside (the install
# step fails if anything pulled it in). Build from the repository root:
#   docker build -f k8s/docker/client.Dockerfile -t inception-svm-client:0.1.0 .
# The install step is k8s/docker/install-image.sh, which tests/k8s/test_images.py runs into
# a fresh virtual environment from a copy of exactly the files COPYed below, then classifies
# the bundled photos against the stand-in server with it.
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
    HOME=/tmp
WORKDIR /src
COPY requirements/constraints.txt requirements/constraints.txt
COPY client client
COPY k8s/docker/install-image.sh k8s/docker/install-image.sh
RUN sh k8s/docker/install-image.sh client \
    && mkdir -p /opt/inception-svm/images \
    && cp -R client/inception_svm_client/data/cars /opt/inception-svm/images/cars \
    && rm -rf /src
# Numeric so that runAsNonRoot can verify it without an /etc/passwd lookup.
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["inception-svm"]
CMD ["--help"]
