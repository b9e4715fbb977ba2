# shellcheck shell=bash
# Node.js for the test scripts. Source this file, then:
#
#   node_ensure   # puts a Node.js >= 20.19 first on PATH, or fails with a message
#
# Uses the node on PATH when it is recent enough, else one installed earlier into
# .tools/node, else installs Node 22 from npm (the package `node@22`) into .tools/node.
# Returns non-zero with a message on stderr; does not rely on `set -e`.

_node_log() { printf '[node.sh] %s\n' "$*" >&2; }

_NODE_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/node
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) _NODE_PLATFORM=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) _NODE_PLATFORM=linux-arm64 ;;
  Darwin-arm64) _NODE_PLATFORM=darwin-arm64 ;;
  Darwin-x86_64) _NODE_PLATFORM=darwin-x64 ;;
  *) _NODE_PLATFORM=unknown ;;
esac
# `npm install node@22` leaves the real binary at node_modules/node/bin/node
# (placed by the package's preinstall script). If npm ever refuses to run that
# script, the platform package node-<os>-<arch> carries the same binary.
_NODE_CANDIDATES=("$_NODE_TOOLS/node_modules/node/bin" "$_NODE_TOOLS/node_modules/node-$_NODE_PLATFORM/bin")

# Succeeds when the given node binary is >= 20.19.
node_ok() {
  local v maj min
  v=$("$1" -p 'process.versions.node' 2>/dev/null) || return 1
  IFS=. read -r maj min _ <<<"$v"
  ((maj > 20 || (maj == 20 && min >= 19)))
}

_node_use_local() {
  local dir
  for dir in "${_NODE_CANDIDATES[@]}"; do
    if [[ -x $dir/node ]] && node_ok "$dir/node"; then
      export PATH="$dir:$PATH"
      return 0
    fi
  done
  return 1
}

node_ensure() {
  if command -v node >/dev/null 2>&1 && node_ok node; then
    :
  elif _node_use_local; then
    :
  else
    command -v npm >/dev/null 2>&1 || { _node_log "need Node.js >= 20.19 (or npm to install it)"; return 1; }
    _node_log "system node missing or older than 20.19; installing Node 22 into .tools/node"
    npm install --prefix "$_NODE_TOOLS" --no-audit --no-fund --no-save node@22 >&2 || true
    if ! _node_use_local; then
      _node_log "node@22 gave no usable binary; trying node-$_NODE_PLATFORM@22"
      npm install --prefix "$_NODE_TOOLS" --no-audit --no-fund --no-save "node-$_NODE_PLATFORM@22" >&2 || true
      _node_use_local || { _node_log "could not install a usable Node.js into .tools/node"; return 1; }
    fi
  fi
  _node_log "using node $(node --version) ($(command -v node))"
}
