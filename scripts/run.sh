#!/usr/bin/env bash
# Start the web server and the price worker in the foreground; Ctrl-C or SIGTERM stops both.
#   scripts/run.sh          both (make run)
#   scripts/run.sh web      only the web server (make web; scale-out: one per process/machine)
#   scripts/run.sh worker   only the price worker (make worker; exactly one per deployment)
set -uo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
host=${HOST:-127.0.0.1}
port=${PORT:-8000}
pids=()

start_web() {
  # uvicorn serves the ASGI app (measured cheaper per SSE event than daphne: bench/README.md).
  # Open price streams never end on their own, so bound the graceful shutdown.
  uvicorn finally_site.asgi:application --host "$host" --port "$port" \
    --timeout-graceful-shutdown 3 --no-access-log --log-level warning &
  pids+=($!)
  echo "FinAlly web server on http://$host:$port (pid $!)"
}

start_worker() {
  python manage.py price_worker &
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

# If either process dies, take the other down too rather than serve stale prices silently.
wait -n "${pids[@]}"
status=$?
echo "a FinAlly process exited (status $status); stopping the rest" >&2
kill -TERM "${pids[@]}" 2>/dev/null
wait "${pids[@]}" 2>/dev/null
exit "$status"
