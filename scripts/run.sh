#!/usr/bin/env bash
# Start the web server, a Celery worker and beat together; Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PORT:-8000}"
mkdir -p var/log

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping MIM Desk…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

.venv/bin/celery -A config worker --loglevel=INFO --concurrency=2 --pool=threads \
  >var/log/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A config beat --loglevel=INFO --pidfile= >var/log/beat.log 2>&1 &
pids+=($!)
.venv/bin/gunicorn config.wsgi:application --bind "127.0.0.1:${PORT}" --workers 2 \
  --access-logfile - --error-logfile - >var/log/web.log 2>&1 &
pids+=($!)

cat <<MSG

  MIM Desk is running at http://127.0.0.1:${PORT}/

  Demo logins (password: mimdesk-demo)
    technician     usr_tina_tech
    ITSM manager   usr_alice_johnson   (also Django admin: http://127.0.0.1:${PORT}/admin/)
    super admin    usr_sam_admin       (also Django admin)
    legal          usr_lee_legal

  API docs: http://127.0.0.1:${PORT}/api/docs/
  Token:    ${SECRET_KEY_FILE:+SECRET_KEY_FILE=${SECRET_KEY_FILE} }.venv/bin/python manage.py issue_token usr_alice_johnson --role itsm_manager | tail -n1
  Logs:     var/log/web.log, var/log/worker.log, var/log/beat.log; email: var/mail/

  Press Ctrl-C to stop.

MSG
# Exit (and stop the others) as soon as any one of the three dies.
wait -n "${pids[@]}"
echo "a MIM Desk process exited; see var/log/" >&2
