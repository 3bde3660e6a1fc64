#!/usr/bin/env bash
# Start the web server, two Celery workers and beat together; Ctrl-C stops them all.
#
# Logs go to $MIM_VAR_DIR/log (var/log by default) and are appended to, never truncated: the log
# of a crash must survive the restart that follows it. Each start writes a line saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PORT:-8000}"
# Links in mail and chat, and the demo provider's status page, point at where this server listens.
export MIM_BASE_URL="${MIM_BASE_URL:-http://localhost:${PORT}}"
# The settings read MIM_VAR_DIR (default: var/ of the checkout); the logs go next to the rest.
export MIM_VAR_DIR="${MIM_VAR_DIR:-$PWD/var}"
LOG="$MIM_VAR_DIR/log"
mkdir -p "$LOG"

started="==== $(date -u '+%Y-%m-%d %H:%M:%S') UTC: make run started (pid $$) ===="
for name in web worker-events worker-periodic beat; do echo "$started" >>"$LOG/$name.log"; done

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping MIM Desk…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'stop; exit 130' INT TERM

# One worker per queue (DESIGN, "Periodic tasks"): the per-event messages (rules, CMDB refresh)
# can pile up on `events` without delaying what beat sends to `periodic`. The prefork pool is
# the one that enforces the tasks' time limits. No gossip, mingle or heartbeat: on the
# filesystem broker they only leave messages nobody reads.
worker() {  # worker QUEUE CONCURRENCY
  .venv/bin/celery -A config worker --queues="$1" --hostname="$1@%h" --concurrency="$2" \
    --pool=prefork --loglevel=INFO --without-gossip --without-mingle --without-heartbeat \
    >>"$LOG/worker-$1.log" 2>&1 &
  pids+=($!)
}
worker events 2
worker periodic 1
.venv/bin/celery -A config beat --loglevel=INFO --pidfile= >>"$LOG/beat.log" 2>&1 &
pids+=($!)
.venv/bin/gunicorn config.wsgi:application --bind "127.0.0.1:${PORT}" --workers 2 \
  --access-logfile - --error-logfile - >>"$LOG/web.log" 2>&1 &
pids+=($!)

cat <<MSG

  MIM Desk is running at http://127.0.0.1:${PORT}/

  Demo logins (password: mimdesk-demo)
    technician     usr_tina_tech
    ITSM manager   usr_alice_johnson   (also Django admin: http://127.0.0.1:${PORT}/admin/)
    super admin    usr_sam_admin       (also Django admin)
    legal          usr_lee_legal

  API docs: http://127.0.0.1:${PORT}/api/docs/
  Token:    ${SECRET_KEY_FILE:+SECRET_KEY_FILE=${SECRET_KEY_FILE} }$PY manage.py issue_token usr_alice_johnson --role itsm_manager | tail -n1
  Logs:     $LOG/ (web, worker-events, worker-periodic, beat)

  Press Ctrl-C to stop.

MSG
# Exit (and stop the others) as soon as any one of them dies.
rc=0
wait -n "${pids[@]}" || rc=$?
echo "a MIM Desk process exited (status $rc); see $LOG/" >&2
exit "$((rc == 0 ? 1 : rc))"  # none of them is meant to stop on its own
