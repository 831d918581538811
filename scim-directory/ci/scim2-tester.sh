#!/usr/bin/env bash
# Runs the scim2-tester compliance checks (PyPI) against the example server.
#
# Creates a virtual environment under target/, installs scim2-tester into it,
# builds and starts `scim_server` on a free port with its token in a file,
# runs the checks, stops the server, and exits non-zero on any failure.
# Environment: PYTHON (default python3), SCIM2_TESTER_VERSION (pip spec,
# default ==0.5.2, the version CI was checked with), SCIM_PORT (default 0: a free port).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/scim2-tester-venv"
work="$(mktemp -d "${TMPDIR:-/tmp}/scim2-tester.XXXXXX")"
port="${SCIM_PORT:-0}"
server_pid=""

cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

if [[ ! -x "$venv/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    "scim2-tester[httpx2]${SCIM2_TESTER_VERSION:-==0.5.2}"

cargo build --quiet -p scim-directory --example scim_server --features axum
server="$target/debug/examples/scim_server"

"$server" --port "$port" --tenant conformance --token-file "$work/token" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    [[ -s "$work/token.url" ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "scim_server exited early:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ ! -s "$work/token.url" ]]; then
    echo "scim_server did not start within 10 s" >&2
    exit 1
fi

status=0
"$venv/bin/python" "$root/scim-directory/ci/scim2_check.py" "$(cat "$work/token.url")" "$work/token" || status=$?
exit "$status"
