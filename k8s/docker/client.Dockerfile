# syntax=docker/dockerfile:1
# The thin client: `inception-svm classify|train|loadtest`. No TensorFlow inside (the build
# fails if anything pulled it in). Build from the repository root:
#   docker build -f k8s/docker/client.Dockerfile -t inception-svm-client:0.1.0 .
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY requirements/constraints.txt requirements/constraints.txt
COPY client client
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels \
        -c requirements/constraints.txt ./client

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir --no-index --find-links /wheels inception-svm-client \
    && rm -rf /wheels \
    && python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('tensorflow') is not None)" \
    && inception-svm --help >/dev/null
# The bundled demo photos at a stable path, for loadtest/classify Jobs.
COPY client/inception_svm_client/data/cars /opt/inception-svm/images/cars
# Numeric so that runAsNonRoot can verify it without an /etc/passwd lookup.
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["inception-svm"]
CMD ["--help"]
