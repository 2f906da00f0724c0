#!/usr/bin/env bash
# Start the web server and the price worker in the foreground; Ctrl-C or SIGTERM stops both.
#   scripts/run.sh          both (make run)
#   scripts/run.sh web      only the web server (make web; scale-out: one per process/machine)
#   scripts/run.sh worker   only the price worker (make worker; exactly one per price store)
# A price worker that crashes is started again with backoff while the web server keeps serving (the page
# and /api/health say prices are delayed meanwhile); if the web server exits, everything stops.
set -uo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}

# PORT and HOST: the environment wins, then .env (as .env.example says), then the defaults.
from_env_file() {
  [ -f .env ] || return 0
  sed -n -E "s/^[[:space:]]*(export[[:space:]]+)?$1[[:space:]]*=[[:space:]]*//p" .env | tail -n 1 |
    sed -E 's/[[:space:]]+#.*$//; s/^"(.*)"$/\1/; s/^'"'"'(.*)'"'"'$/\1/'
}
host=${HOST:-$(from_env_file HOST)}
host=${host:-127.0.0.1}
port=${PORT:-$(from_env_file PORT)}
port=${port:-8000}
case "$port" in
  ''|*[!0-9]*) echo "PORT must be a number, not '$port'" >&2; exit 2 ;;
esac

# The worker's exit status when it cannot run at all (another worker holds the store, a malformed key):
# starting it again cannot help.
CANNOT_RUN=3
pids=()

start_web() {
  # uvicorn serves the ASGI app (measured cheaper per SSE event than daphne: bench/README.md), in one Python
  # process that first migrates and collects static files if anything changed (core/startup.py).
  python manage.py serve --host "$host" --port "$port" &
  pids+=($!)
  echo "FinAlly web server on http://$host:$port (pid $!)"
}

supervise_worker() {
  local child= delay=1 status started
  trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  while true; do
    started=$SECONDS
    python manage.py price_worker &
    child=$!
    echo "price worker running (pid $child)"
    wait "$child"
    status=$?
    child=
    if [ "$status" -eq 0 ] || [ "$status" -eq "$CANNOT_RUN" ]; then
      exit "$status"
    fi
    # A worker that ran a good while before dying starts over from a short delay.
    [ $((SECONDS - started)) -ge 60 ] && delay=1
    echo "price worker exited (status $status); starting it again in ${delay}s" >&2
    sleep "$delay" &
    wait $!
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
}

start_worker() {
  supervise_worker &
  pids+=($!)
}

stop() {
  trap - INT TERM
  kill -TERM "${pids[@]}" 2>/dev/null
  wait "${pids[@]}" 2>/dev/null
  exit 0
}
trap stop INT TERM

case "$what" in
  all) start_worker; start_web ;;
  web) start_web ;;
  worker) start_worker ;;
  *) echo "usage: $0 [all|web|worker]" >&2; exit 2 ;;
esac

# Only the web server's exit (or a worker that may not run at all) gets here: stop the rest.
wait -n "${pids[@]}"
status=$?
# Status 0 is a clean stop (Ctrl-C reaches every process of the terminal's group at once): nothing to report.
[ "$status" -ne 0 ] && echo "a FinAlly process exited (status $status); stopping the rest" >&2
kill -TERM "${pids[@]}" 2>/dev/null
wait "${pids[@]}" 2>/dev/null
exit "$status"
