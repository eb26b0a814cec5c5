#!/usr/bin/env bash
# Builds the pinned regtest daemons (lnd, lncli, btcd, btcctl) from the Go module proxy into a
# per-user cache outside the repo, keyed by everything that decides the binaries, so a fresh
# clone reuses a previous build. Prints the bin folder on stdout; progress goes to stderr.
#
#   TIPD_DAEMON_CACHE  where builds are kept (default: ${XDG_CACHE_HOME:-~/.cache}/tipd/daemons)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
command -v go >/dev/null || { echo "regtest/build.sh: Go is required to build the regtest daemons (https://go.dev/dl/)" >&2; exit 1; }
# lnd's version is pinned in daemons/go.mod; btcd is the version that lnd's go.mod requires.
lnd_version=$(cd "$here/daemons" && go list -m -f '{{.Version}}' github.com/lightningnetwork/lnd)
btcd_version=$(cd "$here/daemons" && go list -m -f '{{.Version}}' github.com/btcsuite/btcd)
# routerrpc has no build tag; these are the sub-servers tipd relies on.
lnd_tags="signrpc walletrpc chainrpc invoicesrpc peersrpc"

key=$(cat "$here/daemons/go.mod" "$here/daemons/go.sum" "$0" | sha256sum | cut -c1-12)
cache=${TIPD_DAEMON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tipd/daemons}
out="$cache/lnd-$lnd_version-$key"

if [ -x "$out/bin/lnd" ] && [ -x "$out/bin/btcd" ]; then
  echo "$out/bin"
  exit 0
fi

log() { printf '[build %4ss] %s\n' "$SECONDS" "$*" >&2; }
# `go build -v` names each package as it compiles it; show a running count instead of the flood.
progress() {
  awk -v what="$1" -v start="$SECONDS" '
    { n++; if (n % 50 == 0) { printf "[build] %s: %d packages compiled\n", what, n > "/dev/stderr"; fflush("/dev/stderr") } }
    END { printf "[build] %s: %d packages compiled\n", what, n > "/dev/stderr" }'
}

log "building lnd $lnd_version and btcd $btcd_version with $(go env GOVERSION) into $out (a cold build takes several minutes)"
tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/bin"
trap 'rm -rf "$tmp"' EXIT

export CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath"
log "downloading modules"
(cd "$here/daemons" && go mod download)

# Builds the named packages into $tmp/bin; on failure, shows what the Go tool said.
compile() {
  local what=$1 tags=$2; shift 2
  log "compiling $what${tags:+ (tags: $tags)}"
  if ! (cd "$here/daemons" && go build -v -ldflags="-s -w" -tags="$tags" -o "$tmp/bin/" "$@" 2>&1 | tee "$tmp/$what.log" | progress "$what"); then
    echo "regtest/build.sh: building $what failed; the end of the Go tool's output:" >&2
    tail -n 40 "$tmp/$what.log" >&2
    exit 1
  fi
}
compile btcd "" github.com/btcsuite/btcd github.com/btcsuite/btcd/cmd/btcctl
compile lnd "$lnd_tags" github.com/lightningnetwork/lnd/cmd/lnd github.com/lightningnetwork/lnd/cmd/lncli

for bin in lnd lncli btcd btcctl; do
  [ -x "$tmp/bin/$bin" ] || { echo "regtest/build.sh: $bin was not built" >&2; exit 1; }
done
rm -f "$tmp"/*.log
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
log "done"
echo "$out/bin"
