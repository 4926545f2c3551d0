#!/usr/bin/env bash
# Installs what `make bench` needs beyond scripts/ensure-deps.sh, when it is
# missing: a C compiler and libvips-dev to build the libvips reference
# (cmd/imagebench/vipsref/vipsref.c). The wallpaper photographs that are
# the bench's inputs come with scripts/ensure-deps.sh (make bench runs both).
# Safe to run again.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have cc         || need+=(gcc libc6-dev)
have pkg-config || need+=(pkg-config)
pkg-config --exists vips 2>/dev/null || need+=(libvips-dev)

. "$(dirname "$0")/apt.sh"
install_missing ensure-bench-deps ${need[@]+"${need[@]}"}
