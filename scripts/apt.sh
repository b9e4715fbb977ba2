# shellcheck shell=bash
# Installs Debian packages for the test and load scripts. Source this file, then:
#
#   apt_install WHAT "HOW TO GET IT OTHERWISE" PACKAGE [apt-get install args...]
#
# Runs `apt-get update` and `apt-get install -y` as root, or with sudo when not root.
# Without apt-get, or without root and sudo, it installs nothing and prints what to
# do instead. Returns non-zero with a message on stderr; does not rely on `set -e`.

apt_install() {
  local what=$1 otherwise=$2
  shift 2
  local -a sudo=()
  if ! command -v apt-get >/dev/null 2>&1; then
    printf '[apt] %s is missing and apt-get is not available; %s\n' "$what" "$otherwise" >&2
    return 1
  fi
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      printf '[apt] %s is missing, and installing it needs root (no sudo here);\n' "$what" >&2
      printf '[apt] run: apt-get install %s   (as root), or %s\n' "$1" "$otherwise" >&2
      return 1
    fi
  fi
  printf "[apt] %s is missing; installing Debian's %s package\n" "$what" "$1" >&2
  if ! "${sudo[@]}" apt-get update >&2; then
    printf '[apt] apt-get update failed\n' >&2
    return 1
  fi
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >&2; then
    printf '[apt] apt-get install %s failed\n' "$*" >&2
    return 1
  fi
}
