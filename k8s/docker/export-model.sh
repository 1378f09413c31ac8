#!/bin/sh
# Entry point of the exporter image: run `inception-svm export` with the given flags, then
# write a SHA256SUMS manifest into every version dir that lacks one, which the serving
# pod's init container (k8s/base/fetch-model.sh) verifies before TF Serving sees the model.
# Prints the manifest digest to pin as MODEL_MANIFEST_SHA256.
set -eu

model_dir=""
previous=""
for arg in "$@"; do
    case "$arg" in
        --model-dir=*) model_dir="${arg#--model-dir=}" ;;
    esac
    [ "$previous" = "--model-dir" ] && model_dir="$arg"
    previous="$arg"
done
[ -n "$model_dir" ] || { echo "export-model: --model-dir is required" >&2; exit 2; }

inception-svm export "$@"

for version_dir in "$model_dir"/*/; do
    version=$(basename "$version_dir")
    case "$version" in '' | *[!0-9]*) continue ;; esac
    [ -f "$version_dir/SHA256SUMS" ] && continue
    (
        cd "$version_dir"
        find . -type f ! -name SHA256SUMS ! -name SHA256SUMS.tmp | LC_ALL=C sort |
            while IFS= read -r file; do sha256sum "$file"; done >SHA256SUMS.tmp
        mv SHA256SUMS.tmp SHA256SUMS
        echo "export-model: version $version MODEL_MANIFEST_SHA256=$(sha256sum SHA256SUMS | cut -d ' ' -f 1)"
    )
done
