#!/bin/sh
# Copy every SavedModel version the pod serves from object storage into the pod-local
# model store: $MODEL_STORE_URL/$MODEL_NAME/<v>/ for each <v> in $MODEL_VERSIONS.
# One tool (rclone) for S3, GCS and Azure Blob; the remote "store" is configured from the
# environment (RCLONE_CONFIG_STORE_*; see k8s/README.md, "Model delivery"), credentials from
# workload identity or the optional Secret model-store-rclone. Nothing here is trusted:
# fetch-model.sh verifies each copy against its SHA256SUMS before TF Serving sees it.
set -eu
: "${MODEL_STORE_URL:?MODEL_STORE_URL is not set}"
: "${MODEL_NAME:?MODEL_NAME is not set}"
: "${MODEL_VERSIONS:?MODEL_VERSIONS is not set}"
for version in $MODEL_VERSIONS; do
    rclone copy --checksum --retries 5 \
        "$MODEL_STORE_URL/$MODEL_NAME/$version" "/model-store/$MODEL_NAME/$version"
done
