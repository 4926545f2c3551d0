#!/usr/bin/env bash
# Installs what `make bench` needs beyond scripts/ensure-deps.sh, when it is
# missing: a C compiler and libvips-dev to build the libvips reference
# (cmd/imagebench/vipsref/vipsref.c), and the Debian wallpaper packages
# whose photographs are the bench's inputs. Safe to run again.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have cc         || need+=(gcc libc6-dev)
have pkg-config || need+=(pkg-config)
pkg-config --exists vips 2>/dev/null || need+=(libvips-dev)
# Real photographs at about 2, 12 and 24 MP (cmd/imagebench/photos.go).
[ -f /usr/share/backgrounds/mate/nature/RainDrops.jpg ] || need+=(mate-backgrounds)
[ -f /usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg ] || need+=(lomiri-wallpapers-16.04)
[ -f /usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg ] || need+=(lomiri-wallpapers-20.04)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "ensure-bench-deps: installing ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if have sudo; then SUDO="sudo"; else
    echo "ensure-bench-deps: not root and no sudo; install by hand: apt-get install ${need[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
