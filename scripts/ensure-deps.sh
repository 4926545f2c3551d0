#!/usr/bin/env bash
# Installs the Debian packages the test suite and the image optimizer chain
# use, when they are missing. Safe to run again: it only installs what is
# not there. Needs root (or sudo) for apt-get.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
# installed reports whether the Debian package is installed, for what a
# command on PATH cannot prove: a machine may put a script named convert
# before ImageMagick's, and libwebp.so is a library, not a command.
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
have foreman       || need+=(ruby-foreman)
have jpegtran      || need+=(libjpeg-turbo-progs)
have optipng       || need+=(optipng)
have pngquant      || need+=(pngquant)
have cwebp         || need+=(webp)
have redis-server  || need+=(redis-server)
have psql          || need+=(postgresql-client)
ls /etc/postgresql/*/main >/dev/null 2>&1 || need+=(postgresql)
have redis-sentinel || need+=(redis-sentinel)
have vipsthumbnail || need+=(libvips-tools)
have heif-enc      || need+=(libheif-examples)
installed imagemagick || need+=(imagemagick)
# The worker encodes WebP in-process with the system libwebp.so (the
# unversioned name gen2brain/webp opens comes with the -dev package).
installed libwebp-dev || need+=(libwebp-dev)
have chromium      || need+=(chromium)
have advpng        || need+=(advancecomp)
have zopflipng     || need+=(zopfli)
have wrk           || need+=(wrk)
# The README's curl example is run as written (curl and jq); the Uppy test
# installs @uppy/aws-s3 and esbuild from npm.
have curl          || need+=(curl)
have jq            || need+=(jq)
have npm           || need+=(npm)
# ICC profiles the colour-management tests convert real photos with.
[ -f /usr/share/color/icc/compatibleWithAdobeRGB1998.icc ] || need+=(icc-profiles-free)
[ -f /usr/share/color/icc/colord/ProPhotoRGB.icc ] || need+=(colord-data)
# Real photos the JPEG decoder's golden test (jpegscale TestGolden) decodes,
# the same the bench uses.
[ -f /usr/share/backgrounds/mate/nature/RainDrops.jpg ] || need+=(mate-backgrounds)
[ -f /usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg ] || need+=(lomiri-wallpapers-16.04)
[ -f /usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg ] || need+=(lomiri-wallpapers-20.04)

. "$(dirname "$0")/apt.sh"
install_missing ensure-deps ${need[@]+"${need[@]}"}
