#!/usr/bin/env bash
# Schemathesis (from PyPI), pinned, in a virtual environment of its own under .tools/: the API
# conformance test (tests/integration/conformance.test.ts) runs it against a real tipd. Quick when
# it is there; nothing outside the repo is touched.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=4.32.5
venv="$root/.tools/schemathesis"
if [ -x "$venv/bin/st" ] && [ "$("$venv/bin/st" --version 2>/dev/null)" = "st, version $version" ]; then exit 0; fi
printf '[setup] %s\n' "installing schemathesis $version from PyPI into .tools/schemathesis" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
