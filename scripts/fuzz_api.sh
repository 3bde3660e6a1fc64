#!/usr/bin/env bash
# API fuzz run: schemathesis against MIM Desk's own OpenAPI schema, authenticated as a super admin.
#
# Starts the app under gunicorn on a free loopback port, on a fresh SQLite database in a temporary
# MIM_VAR_DIR with the demo data, and fails on any 5xx (not_a_server_error), any status code the
# schema does not document for that operation (status_code_conformance) or any response body that
# does not match the schema, error bodies included (response_schema_conformance). Bounded:
# FUZZ_MAX_EXAMPLES per operation (all four phases: examples, coverage, fuzzing, stateful) and
# FUZZ_TIMEOUT seconds overall, after which the run is stopped and fails. Gunicorn is always
# stopped (trap). Logs and reports land in FUZZ_OUT (default var/ci/fuzz); on failure the
# server-side tracebacks are printed from its log.
#
# Environment: FUZZ_MAX_EXAMPLES (25), FUZZ_SEED (fixed, for repeatable CI runs; "random" for a
# new one), FUZZ_TIMEOUT (600), FUZZ_WORKERS (schemathesis, 2), FUZZ_GUNICORN_WORKERS (2, as in
# `make run`), FUZZ_OUT (var/ci/fuzz).
# (schemathesis's own --max-time is not a bound: it repeats fuzzing until that time is spent.)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY="$REPO/.venv/bin/python"
ST="$REPO/.venv/bin/schemathesis"
GUNICORN="$REPO/.venv/bin/gunicorn"

MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-25}"
TIMEOUT="${FUZZ_TIMEOUT:-600}"
WORKERS="${FUZZ_WORKERS:-2}"
GUNICORN_WORKERS="${FUZZ_GUNICORN_WORKERS:-2}"
SEED="${FUZZ_SEED:-20261122}"
if [[ "$SEED" == random ]]; then SEED=$((RANDOM * 32768 + RANDOM)); fi
OUT="${FUZZ_OUT:-$REPO/var/ci/fuzz}"
rm -rf "$OUT"
mkdir -p "$OUT"

for tool in "$PY" "$ST" "$GUNICORN"; do
  [[ -x "$tool" ]] || { echo "fuzz: $tool missing (run make install)" >&2; exit 2; }
done

WORK=$(mktemp -d -t mimdesk-fuzz-XXXXXX)
GUNICORN_PID=""
cleanup() {
  local rc=$?
  if [[ -n "$GUNICORN_PID" ]] && kill -0 "$GUNICORN_PID" 2>/dev/null; then
    kill -TERM "$GUNICORN_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$GUNICORN_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$GUNICORN_PID" 2>/dev/null || true
    wait "$GUNICORN_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT INT TERM

# The app's environment: its own database, cache, broker folder and mail folder under $WORK.
export DJANGO_SETTINGS_MODULE=config.settings
export MIM_VAR_DIR="$WORK/var"
export DATABASE_URL="sqlite:///$WORK/fuzz.sqlite3"
export CACHE_URL="filecache://$WORK/var/cache"
export CELERY_BROKER_URL="filesystem://"
# Run the CMDB refresh task inside the request, so a failure in it shows up here as a 5xx.
export CELERY_TASK_ALWAYS_EAGER=true
export DEBUG=false
export LOG_LEVEL=ERROR  # keep 500s and their tracebacks, not every 4xx
unset CELERY_RESULT_BACKEND JWT_JWKS_URL JWT_AUDIENCE JWT_ISSUER JWT_SIGNING_KEY JWT_SIGNING_KEY_FILE \
  SECRET_KEY 2>/dev/null || true
# DEBUG=false needs a secret: a random one of this run's own, generated into $WORK (mode 600).
"$PY" config/keyfile.py "$WORK/secret_key"
export SECRET_KEY_FILE="$WORK/secret_key"

echo "fuzz: migrating a fresh SQLite database in $WORK and loading the demo data"
"$PY" manage.py migrate --noinput >"$OUT/migrate.log" 2>&1 || { cat "$OUT/migrate.log"; exit 1; }
"$PY" manage.py seed_demo >"$OUT/seed.log" 2>&1 || { cat "$OUT/seed.log"; exit 1; }
TOKEN=$("$PY" manage.py issue_token ci_fuzzer --role super_admin 2>>"$OUT/seed.log" | tail -n1)
[[ -n "$TOKEN" ]] || { echo "fuzz: issue_token printed no token" >&2; exit 1; }

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
BASE="http://127.0.0.1:$PORT"
LOG="$OUT/gunicorn.log"
"$GUNICORN" config.wsgi:application --bind "127.0.0.1:$PORT" --workers "$GUNICORN_WORKERS" --timeout 60 \
  --access-logfile "$OUT/access.log" --error-logfile "$LOG" --capture-output >>"$LOG" 2>&1 &
GUNICORN_PID=$!

echo "fuzz: waiting for $BASE/api/schema/"
for i in $(seq 1 120); do
  if curl -fsS -o "$OUT/schema.yaml" -H "Authorization: Bearer $TOKEN" "$BASE/api/schema/" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$GUNICORN_PID" 2>/dev/null; then
    echo "fuzz: gunicorn exited before serving the schema:" >&2; cat "$LOG" >&2; exit 1
  fi
  if [[ $i == 120 ]]; then echo "fuzz: no schema after 60 s" >&2; cat "$LOG" >&2; exit 1; fi
  sleep 0.5
done

echo "fuzz: schemathesis on $BASE/api/schema/ — up to $MAX_EXAMPLES examples per operation," \
  "seed $SEED, stopped after ${TIMEOUT}s"
set +e
timeout --signal=TERM --kill-after=15 "$TIMEOUT" "$ST" run "$BASE/api/schema/" \
  --url "$BASE" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,response_schema_conformance \
  --max-examples "$MAX_EXAMPLES" \
  --seed "$SEED" \
  --workers "$WORKERS" \
  --request-timeout 30 \
  --generation-database none \
  --no-color \
  --report junit --report-dir "$OUT/report" \
  2>&1 | tee "$OUT/schemathesis.log"
ST_RC=${PIPESTATUS[0]}
set -e

if grep -q "Traceback" "$LOG"; then
  echo
  echo "fuzz: server errors logged by the app in $LOG, grouped by cause:"
  "$PY" - "$LOG" "$OUT/access.log" <<'PYEOF' || true
import re
import sys
from collections import Counter

log = open(sys.argv[1], errors="replace").read()
access = open(sys.argv[2], errors="replace").read().splitlines()
five_xx = Counter()
for line in access:
    m = re.search(r'"(\w+) (\S+) HTTP/[\d.]+" (5\d\d)', line)
    if m:
        five_xx[(m.group(1), m.group(2).split("?")[0], m.group(3))] += 1
stamp = re.compile(r"^(\d{4}-\d\d-\d\d[ T]|\[\d{4}-)")
blocks, current = [], None
for line in log.splitlines():
    if stamp.match(line):
        current = [line] if " ERROR " in line else None
        if current is not None:
            blocks.append(current)
    elif current is not None:
        current.append(line)
groups: dict = {}
for lines in blocks:
    exc = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b", ln)]
    ours = [ln.strip() for ln in lines if 'File "' in ln and "/.venv/" not in ln and "/lib/python3" not in ln]
    frames = [ln.strip() for ln in lines if ln.strip().startswith('File "')]
    where = ours[-1] if ours else (frames[-1] if frames else "")
    key = (exc[-1] if exc else lines[0], where)
    groups.setdefault(key, []).append("\n".join(lines))
for (exc, frame), items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
    print(f"\n--- {len(items)}x {exc}\n    at {frame}")
    first = items[0].splitlines()
    shown = first if len(first) <= 70 else [first[0], "  ..."] + first[-60:]
    print("    first seen:\n" + "\n".join("    " + ln for ln in shown))
if five_xx:
    print("\n5xx responses in the access log (method, path, status: count):")
    for (method, path, status), n in five_xx.most_common(40):
        print(f"  {n:4d}  {method} {path} -> {status}")
PYEOF
fi
if [[ $ST_RC -eq 124 || $ST_RC -eq 137 ]]; then
  echo "fuzz: FAILED: schemathesis did not finish within ${TIMEOUT}s" >&2
fi
if [[ $ST_RC -ne 0 ]]; then
  echo "fuzz: FAILED (schemathesis exit $ST_RC); logs and reports in $OUT" >&2
  exit "$ST_RC"
fi
echo "fuzz: passed; logs and reports in $OUT"
