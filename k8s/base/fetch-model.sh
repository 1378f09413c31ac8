#!/bin/sh
# Install one SavedModel version for TF Serving, refusing anything that fails its checksums.
#
# Copies $MODEL_SOURCE_DIR/$MODEL_NAME/$MODEL_VERSION into a hidden staging dir under
# $MODEL_TARGET_DIR/$MODEL_NAME, verifies the *copy* (what will actually be served) against
# its SHA256SUMS, checks that SHA256SUMS lists every file (so an extra, unverified file
# cannot ride along) and, when MODEL_MANIFEST_SHA256 is set, that SHA256SUMS itself is the
# pinned one. Only then is the staging dir renamed to the numeric version dir, so TF Serving
# never sees a partial version. POSIX sh + busybox/coreutils only.
set -eu

fail() {
    echo "fetch-model: $*" >&2
    exit 1
}

: "${MODEL_SOURCE_DIR:?MODEL_SOURCE_DIR is not set}"
: "${MODEL_TARGET_DIR:?MODEL_TARGET_DIR is not set}"
: "${MODEL_NAME:?MODEL_NAME is not set}"
: "${MODEL_VERSION:?MODEL_VERSION is not set}"
MODEL_MANIFEST_SHA256="${MODEL_MANIFEST_SHA256:-}"

case "$MODEL_VERSION" in
    '' | *[!0-9]*) fail "MODEL_VERSION must be a positive integer, got '$MODEL_VERSION'" ;;
esac

source_dir="$MODEL_SOURCE_DIR/$MODEL_NAME/$MODEL_VERSION"
model_root="$MODEL_TARGET_DIR/$MODEL_NAME"
staging="$model_root/.staging-$MODEL_VERSION"
final="$model_root/$MODEL_VERSION"

[ -d "$source_dir" ] || fail "no model version at $source_dir"
[ -f "$source_dir/SHA256SUMS" ] || fail "$source_dir has no SHA256SUMS manifest"
[ -f "$source_dir/saved_model.pb" ] || fail "$source_dir has no saved_model.pb"

mkdir -p "$model_root"
rm -rf "$staging" "$final"
cp -R "$source_dir" "$staging"
cd "$staging"

if [ -n "$MODEL_MANIFEST_SHA256" ]; then
    actual=$(sha256sum SHA256SUMS | cut -d ' ' -f 1)
    [ "$actual" = "$MODEL_MANIFEST_SHA256" ] ||
        fail "SHA256SUMS digest is $actual, expected MODEL_MANIFEST_SHA256=$MODEL_MANIFEST_SHA256"
else
    echo "fetch-model: MODEL_MANIFEST_SHA256 is empty; verifying files against SHA256SUMS only" >&2
fi

sha256sum -c SHA256SUMS >/dev/null || fail "checksum mismatch in $source_dir"

listed=$(grep -c . SHA256SUMS)
present=$(find . -type f ! -name SHA256SUMS | wc -l | tr -d ' ')
[ "$listed" -eq "$present" ] ||
    fail "SHA256SUMS lists $listed files but the version dir holds $present"

cd /
mv "$staging" "$final"
echo "fetch-model: installed $MODEL_NAME version $MODEL_VERSION ($present files verified)"
