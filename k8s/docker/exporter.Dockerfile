# syntax=docker/dockerfile:1
# One-shot exporter: TF-Slim checkpoint -> TF Serving SavedModel version dir + SHA256SUMS.
# Build from the repository root:
#   docker build -f k8s/docker/exporter.Dockerfile -t inception-svm-exporter:0.1.0 .
# Run (see k8s/examples/exporter-job):
#   export-model --checkpoint URL_OR_TARBALL --model-dir /model-store/inception_v1 --version 1
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY requirements/constraints.txt requirements/constraints.txt
COPY pyproject.toml pyproject.toml
COPY client client
COPY export export
COPY serving serving
# ./client satisfies the full distribution's `inception-svm-client` requirement locally.
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels \
        -c requirements/constraints.txt './client[train]' .

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HOME=/tmp
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir --no-index --find-links /wheels \
        'inception-svm-client[train]' inception-svm \
    && rm -rf /wheels \
    && inception-svm export --help >/dev/null
COPY --chmod=0555 k8s/docker/export-model.sh /usr/local/bin/export-model
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["export-model"]
