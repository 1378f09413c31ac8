#!/bin/sh
# Install the SavedModel versions TF Serving serves, refusing anything that fails its checksums.
#
#   fetch-model.sh            once (init container): install every version, exit 1 on any failure
#   fetch-model.sh --watch    forever (the model-sync sidecar): keep the pod's model dir in
#                             sync with the wanted versions, never exit on a bad round
#
# For each version in $MODEL_VERSIONS (space-separated: every version models.config names, so
# that `stable`/`canary` labels resolve), copies $MODEL_SOURCE_DIR/$MODEL_NAME/<v> into a
# hidden staging dir under $MODEL_TARGET_DIR/$MODEL_NAME, verifies the *copy* (what will
# actually be served) against the SHA256SUMS the exporter wrote inside the version dir,
# checks that SHA256SUMS lists every file (an extra, unverified file cannot ride along) and,
# when $MODEL_MANIFEST_SHA256S pins it ("1=<hex> 2=<hex>"), that SHA256SUMS itself is the
# pinned one. Only then is the staging dir renamed to the numeric version dir, so TF Serving
# never sees a partial or unverified version (its file-system source only counts children
# whose names parse as integers: file_system_storage_path_source.cc). POSIX sh +
# busybox/coreutils only.
#
# Watch mode, every $MODEL_SYNC_INTERVAL_S seconds (default 60):
#   - re-reads MODEL_VERSIONS / MODEL_MANIFEST_SHA256S from $MODEL_SOURCE_CONFIG_DIR (the
#     model-source ConfigMap mounted as a volume: the kubelet refreshes it in place after a
#     `kubectl apply`, no pod restart) when set, else uses the environment;
#   - for each wanted version not yet installed: runs $MODEL_DOWNLOAD_SCRIPT for it (the
#     bucket copy, base/model-download.sh; unset where the source is a mounted volume), then
#     installs it as above. A failure (bucket unreachable, torn upload without SHA256SUMS,
#     tampered file, wrong pin) is logged, nothing becomes visible, and it is retried next
#     round: the pod keeps serving what it has;
#   - removes installed versions no longer wanted, but only once every wanted version is
#     installed, so the server is never left without a version it should serve (rename to a
#     hidden dir first: TF Serving sees the version vanish at once, then it is deleted);
#   - touches $MODEL_SYNC_HEARTBEAT (the sidecar's liveness probe) after each round.
set -eu

fail() {
    echo "fetch-model: $*" >&2
    exit 1
}

log() {
    echo "fetch-model: $*" >&2
}

: "${MODEL_SOURCE_DIR:?MODEL_SOURCE_DIR is not set}"
: "${MODEL_TARGET_DIR:?MODEL_TARGET_DIR is not set}"
: "${MODEL_NAME:?MODEL_NAME is not set}"
MODEL_VERSIONS="${MODEL_VERSIONS-}"
MODEL_MANIFEST_SHA256S="${MODEL_MANIFEST_SHA256S:-}"
MODEL_ROOT="$MODEL_TARGET_DIR/$MODEL_NAME"

pinned_digest() {
    for pin in $MODEL_MANIFEST_SHA256S; do
        case "$pin" in "$1="*) echo "${pin#*=}"; return ;; esac
    done
}

check_versions() {
    [ -n "$(echo $MODEL_VERSIONS)" ] || fail "MODEL_VERSIONS is empty"
    for v in $MODEL_VERSIONS; do
        case "$v" in
            '' | *[!0-9]*) fail "MODEL_VERSIONS must list positive integers, got '$v'" ;;
        esac
    done
}

install_version() {
    version="$1"
    source_dir="$MODEL_SOURCE_DIR/$MODEL_NAME/$version"
    staging="$MODEL_ROOT/.staging-$version"
    final="$MODEL_ROOT/$version"

    [ -d "$source_dir" ] || fail "no model version at $source_dir"
    [ -f "$source_dir/SHA256SUMS" ] || fail "$source_dir has no SHA256SUMS manifest"
    [ -f "$source_dir/saved_model.pb" ] || fail "$source_dir has no saved_model.pb"

    mkdir -p "$MODEL_ROOT"
    rm -rf "$staging" "$final"
    cp -R "$source_dir" "$staging"
    cd "$staging"

    expected=$(pinned_digest "$version")
    if [ -n "$expected" ]; then
        actual=$(sha256sum SHA256SUMS | cut -d ' ' -f 1)
        [ "$actual" = "$expected" ] ||
            fail "version $version: SHA256SUMS digest is $actual, expected $expected (MODEL_MANIFEST_SHA256S)"
    elif [ "${ALLOW_UNPINNED_MODELS:-false}" = true ]; then
        log "version $version has no pin in MODEL_MANIFEST_SHA256S; ALLOW_UNPINNED_MODELS=true: verifying files against SHA256SUMS only"
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

read_wanted() {
    # The mounted ConfigMap's files hold the current values (one key per file).
    if [ -n "${MODEL_SOURCE_CONFIG_DIR:-}" ]; then
        MODEL_VERSIONS=$(cat "$MODEL_SOURCE_CONFIG_DIR/MODEL_VERSIONS" 2>/dev/null || true)
        MODEL_MANIFEST_SHA256S=$(cat "$MODEL_SOURCE_CONFIG_DIR/MODEL_MANIFEST_SHA256S" 2>/dev/null || true)
    fi
}

sync_round() {
    read_wanted
    # A subshell per step: `fail` ends the step, never the sidecar.
    if ! (check_versions); then
        log "keeping the installed versions"
        return 0
    fi
    complete=true
    for v in $MODEL_VERSIONS; do
        [ -d "$MODEL_ROOT/$v" ] && continue
        if [ -n "${MODEL_DOWNLOAD_SCRIPT:-}" ] &&
            ! MODEL_VERSIONS="$v" sh "$MODEL_DOWNLOAD_SCRIPT"; then
            log "version $v: download failed (bucket unreachable?); retrying next round"
            complete=false
            continue
        fi
        if ! (install_version "$v"); then
            rm -rf "$MODEL_ROOT/.staging-$v"
            log "version $v refused; it stays invisible and is retried next round"
            complete=false
        fi
    done
    [ "$complete" = true ] && [ -d "$MODEL_ROOT" ] || return 0
    for dir in "$MODEL_ROOT"/*; do
        v="${dir##*/}"
        case "$v" in '' | *[!0-9]*) continue ;; esac
        case " $(echo $MODEL_VERSIONS) " in *" $v "*) continue ;; esac
        if mv "$dir" "$MODEL_ROOT/.retired-$v"; then
            rm -rf "$MODEL_ROOT/.retired-$v"
            # The pod-local download of a retired version (never the bucket itself).
            [ -z "${MODEL_DOWNLOAD_SCRIPT:-}" ] || rm -rf "$MODEL_SOURCE_DIR/$MODEL_NAME/$v"
            log "removed version $v (no longer in MODEL_VERSIONS)"
        fi
    done
}

if [ "${1:-}" = "--watch" ]; then
    trap 'exit 0' TERM INT
    interval="${MODEL_SYNC_INTERVAL_S:-60}"
    while true; do
        sync_round
        [ -z "${MODEL_SYNC_HEARTBEAT:-}" ] || touch "$MODEL_SYNC_HEARTBEAT"
        sleep "$interval" &
        wait $! || true
    done
fi

check_versions
for v in $MODEL_VERSIONS; do
    install_version "$v"
done
