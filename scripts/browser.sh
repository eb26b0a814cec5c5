#!/usr/bin/env bash
# The browser the page tests drive (Playwright, tests/browser/): Debian's Chromium at /usr/bin/chromium,
# installed with apt when it is missing (no browser is downloaded at run time). Idempotent and quick
# when it is there.
set -euo pipefail
chromium=${TIPD_CHROMIUM:-/usr/bin/chromium}
if [ -x "$chromium" ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "[setup] the page tests need Chromium at $chromium: install Debian's package (apt-get install chromium) or set TIPD_CHROMIUM" >&2
  exit 1
fi
printf '[setup] %s\n' "installing Debian's chromium for the page tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
