# Sourced by the ensure-*.sh scripts: install_missing NAME PACKAGE... installs
# the Debian packages given with apt-get (as root, or through sudo), or says
# which to install by hand. Nothing is done when no package is given.
install_missing() {
  local name=$1; shift
  [ $# -eq 0 ] && return 0
  echo "$name: installing $*"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "$name: not root and no sudo; install by hand: apt-get install $*" >&2
      return 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
