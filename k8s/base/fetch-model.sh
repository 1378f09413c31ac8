#!/bin/sh
# Install the SavedModel versions TF Serving serves, refusing anything that fails its checksums.
#
# For each version in $MODEL_VERSIONS (space-separated: every version models.config names, so
# that `stable`/`canary` labels resolve), copies $MODEL_SOURCE_DIR/$MODEL_NAME/<v> into a
# hidden staging dir under $MODEL_TARGET_DIR/$MODEL_NAME, verifies the *copy* (what will
# actually be served) against the SHA256SUMS the exporter wrote inside the version dir,
# checks that SHA256SUMS lists every file (an extra, unverified file cannot ride along) and,
# when $MODEL_MANIFEST_SHA256S pins it ("1=<hex> 2=<hex>"), that SHA256SUMS itself is the
# pinned one. Only then is the staging dir renamed to the numeric version dir, so TF Serving
# never sees a partial or unverified version. POSIX sh + busybox/coreutils only.
set -eu

fail() {
    echo "fetch-model: $*" >&2
    exit 1
}

: "${MODEL_SOURCE_DIR:?MODEL_SOURCE_DIR is not set}"
: "${MODEL_TARGET_DIR:?MODEL_TARGET_DIR is not set}"
: "${MODEL_NAME:?MODEL_NAME is not set}"
: "${MODEL_VERSIONS:?MODEL_VERSIONS is not set}"
MODEL_MANIFEST_SHA256S="${MODEL_MANIFEST_SHA256S:-}"

pinned_digest() {
    for pin in $MODEL_MANIFEST_SHA256S; do
        case "$pin" in "$1="*) echo "${pin#*=}"; return ;; esac
    done
}

install_version() {
    version="$1"
    case "$version" in
        '' | *[!0-9]*) fail "MODEL_VERSIONS must list positive integers, got '$version'" ;;
    esac
    source_dir="$MODEL_SOURCE_DIR/$MODEL_NAME/$version"
    model_root="$MODEL_TARGET_DIR/$MODEL_NAME"
    staging="$model_root/.staging-$version"
    final="$model_root/$version"

    [ -d "$source_dir" ] || fail "no model version at $source_dir"
    [ -f "$source_dir/SHA256SUMS" ] || fail "$source_dir has no SHA256SUMS manifest"
    [ -f "$source_dir/saved_model.pb" ] || fail "$source_dir has no saved_model.pb"

    mkdir -p "$model_root"
    rm -rf "$staging" "$final"
    cp -R "$source_dir" "$staging"
    cd "$staging"

    expected=$(pinned_digest "$version")
    if [ -n "$expected" ]; then
        actual=$(sha256sum SHA256SUMS | cut -d ' ' -f 1)
        [ "$actual" = "$expected" ] ||
            fail "version $version: SHA256SUMS digest is $actual, expected $expected (MODEL_MANIFEST_SHA256S)"
    elif [ "${ALLOW_UNPINNED_MODELS:-false}" = true ]; then
        echo "fetch-model: version $version has no pin in MODEL_MANIFEST_SHA256S; ALLOW_UNPINNED_MODELS=true: verifying files against SHA256SUMS only" >&2
    else
        # Secure by default: an unpinned SHA256SUMS only proves the files match each other,
        # not that they are the export you made (anyone who can write the bucket can write both).
        fail "version $version has no pin in MODEL_MANIFEST_SHA256S (\"$version=<digest>\", printed by the export as MODEL_MANIFEST_SHA256=...); set ALLOW_UNPINNED_MODELS=true to serve it unpinned"
    fi

    sha256sum -c SHA256SUMS >/dev/null 2>&1 || fail "checksum mismatch in $source_dir"

    listed=$(grep -c . SHA256SUMS)
    present=$(find . -type f ! -name SHA256SUMS | wc -l | tr -d ' ')
    [ "$listed" -eq "$present" ] ||
        fail "SHA256SUMS lists $listed files but $source_dir holds $present"

    cd /
    mv "$staging" "$final"
    echo "fetch-model: installed $MODEL_NAME version $version ($present files verified)"
}

[ -n "$(echo $MODEL_VERSIONS)" ] || fail "MODEL_VERSIONS is empty"
for v in $MODEL_VERSIONS; do
    install_version "$v"
done
