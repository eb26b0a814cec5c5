#!/usr/bin/env bash
# Runs a command with the project's Node.js and npm packages in place, setting them up first:
# a Node.js older than the major in .node-version is replaced by the pinned one, installed from the
# npm registry into .tools/ (nothing outside the repo is touched); npm packages are installed from
# package-lock.json when it changed. Used by every npm script, so a fresh clone needs nothing else.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
want=$(cat "$root/.node-version")
say() { printf '[setup] %s\n' "$*" >&2; }

major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(major node)" -lt "${want%%.*}" ]; then
  tools="$root/.tools/node-v$want"
  if [ ! -x "$tools/bin/node" ]; then
    # The node-<os>-<arch> packages on the npm registry carry the official binaries.
    platform=$(node -p 'process.platform + "-" + process.arch')
    say "Node.js $(node --version 2>/dev/null || echo none) is too old; installing Node.js $want ($platform) into .tools/"
    rm -rf "$tools.tmp" && mkdir -p "$tools.tmp"
    npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$tools.tmp" "node-$platform@$want"
    mkdir -p "$tools/bin"
    mv "$tools.tmp/node_modules/node-$platform/bin/node" "$tools/bin/node"
    rm -rf "$tools.tmp"
  fi
  export PATH="$tools/bin:$PATH"
fi

# npm writes node_modules/.package-lock.json at the end of every successful install.
if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  say "installing npm packages (node $(node --version))"
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error)
fi

export PATH="$root/node_modules/.bin:$PATH"
exec "$@"
