#!/usr/bin/env bash
# Runs the scim2-tester compliance checks (PyPI) against the example server,
# on SQLite and, when DATABASE_URL is set, again on PostgreSQL.
#
# Creates a virtual environment under target/, installs scim2-tester into it,
# builds `scim_server`, checks its command line (--help exits 0 without
# serving, an unknown option exits 2), then per database: `tenants create`
# with the token in a file, `serve` on a free port, the checks, a restart
# with the same token still accepted, and the server stopped. The
# PostgreSQL run uses a schema of its own, dropped at the end (psql, or
# psycopg in the venv when psql is missing). Exits non-zero on any failure.
# Environment: PYTHON (default python3), SCIM2_TESTER_VERSION (pip spec,
# default ==0.5.2, the version CI was checked with), SCIM_PORT (default 0:
# a free port), DATABASE_URL (optional).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/scim2-tester-venv"
work="$(mktemp -d "${TMPDIR:-/tmp}/scim2-tester.XXXXXX")"
port="${SCIM_PORT:-0}"
server_pid=""
pg_schema=""

stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}

drop_pg_schema() {
    [[ -n "$pg_schema" ]] || return 0
    local sql="SET client_min_messages = warning; DROP SCHEMA IF EXISTS $pg_schema CASCADE"
    if command -v psql >/dev/null 2>&1; then
        psql "$DATABASE_URL" -qc "$sql" >/dev/null
    else
        "$venv/bin/pip" install --quiet --disable-pip-version-check "psycopg[binary]"
        "$venv/bin/python" -c 'import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c: c.execute(sys.argv[2])' \
            "$DATABASE_URL" "$sql"
    fi
    pg_schema=""
}

cleanup() {
    stop_server
    drop_pg_schema || echo "could not drop schema $pg_schema" >&2
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "scim2-tester.sh: $*" >&2
    exit 1
}

if [[ ! -x "$venv/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    "scim2-tester[httpx2]${SCIM2_TESTER_VERSION:-==0.5.2}"

cargo build --quiet -p scim-directory --example scim_server --features axum,postgres
server="$target/debug/examples/scim_server"

# The command line: help starts nothing, a wrong option is a usage error.
"$server" --help >"$work/help.txt" || fail "--help exited $?"
grep -q "tenants create" "$work/help.txt" || fail "--help printed no usage"
status=0
"$server" --tenant acme >/dev/null 2>"$work/usage.txt" || status=$?
[[ "$status" == 2 ]] || fail "an unknown option exited $status, not 2"

# serve in the background; waits until it wrote its URL prefix.
start_server() {
    rm -f "$work/url"
    "$server" "${db_args[@]}" serve --port "$port" --url-file "$work/url" \
        >>"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        [[ -s "$work/url" ]] && return 0
        if ! kill -0 "$server_pid" 2>/dev/null; then
            cat "$work/server.log" >&2
            fail "scim_server exited early"
        fi
        sleep 0.1
    done
    fail "scim_server did not start within 10 s"
}

# 200 from the tenant's /Users with the token in the file, or fail.
token_works() {
    "$venv/bin/python" - "$(cat "$work/url")/conformance/Users" "$work/token" <<'PY'
import sys, urllib.request
token = open(sys.argv[2], encoding="utf-8").read().strip()
req = urllib.request.Request(sys.argv[1], headers={"Authorization": f"Bearer {token}"})
with urllib.request.urlopen(req, timeout=10) as resp:
    sys.exit(0 if resp.status == 200 else 1)
PY
}

# One database: create the tenant, serve, check, restart, check the token.
checks_on() {
    local label="$1"
    echo "== scim2-tester on $label"
    "$server" "${db_args[@]}" tenants create conformance --token-file "$work/token" \
        >"$work/create.txt" || fail "tenants create failed on $label"
    "$server" "${db_args[@]}" tenants list >"$work/list.txt"
    grep -q "^conformance .*active" "$work/list.txt" || fail "tenants list: $(cat "$work/list.txt")"
    if grep -qF "$(cat "$work/token")" "$work/create.txt" "$work/list.txt"; then
        fail "the token was printed although --token-file was given"
    fi
    start_server
    local result=0
    "$venv/bin/python" "$root/scim-directory/ci/scim2_check.py" \
        "$(cat "$work/url")/conformance" "$work/token" || result=$?
    stop_server
    start_server
    token_works || fail "the token did not survive a restart on $label"
    stop_server
    return "$result"
}

status=0
db_args=(--database "$work/scim.sqlite")
checks_on SQLite || status=1
mode="$("$venv/bin/python" -c 'import os, sys; print(oct(os.stat(sys.argv[1]).st_mode & 0o777))' "$work/scim.sqlite")"
[[ "$mode" == 0o600 ]] || fail "the SQLite file was created with mode $mode, not 0o600"

if [[ -n "${DATABASE_URL:-}" ]]; then
    pg_schema="scim_ci_$$_${RANDOM}"
    db_args=(--database "$DATABASE_URL" --schema "$pg_schema")
    checks_on PostgreSQL || status=1
    drop_pg_schema
else
    echo "skipped the PostgreSQL run: DATABASE_URL is not set"
fi
exit "$status"
