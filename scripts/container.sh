#!/usr/bin/env bash
# The Docker image's own steps, in one script: the Dockerfile only calls it, and the tests run it outside
# Docker (finally_site/tests/test_container.py), so what the image does is what the tests exercise.
#   scripts/container.sh install          a venv at $VENV (the image: /app/.venv) with requirements.txt
#   scripts/container.sh build            static files collected into staticfiles/
#   scripts/container.sh start [what]     scripts/run.sh in the foreground (each process migrates and seeds a
#                                         new database itself):
#                                         all (web + worker, the default), web or worker. Run as PID 1 it
#                                         stops both cleanly on SIGTERM (docker stop): run.sh forwards it.
#   scripts/container.sh health           exit 0 when /api/health answers 200 (the image's HEALTHCHECK)
# Inside a container the server listens on 0.0.0.0:8000 whatever HOST/PORT an --env-file carries (those are
# make run's); BIND_HOST / BIND_PORT change that.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
bind_host=${BIND_HOST:-0.0.0.0}
bind_port=${BIND_PORT:-8000}

case "${1:-}" in
  install)
    "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --no-input --disable-pip-version-check --quiet -r requirements.txt
    ;;
  build)
    # A throwaway key: without one, settings would write a secret into the image.
    DJANGO_SECRET_KEY=collectstatic-only "$VENV/bin/python" manage.py collectstatic --no-input --clear -v 0
    ;;
  start)
    export PATH="$VENV/bin:$PATH" HOST="$bind_host" PORT="$bind_port"
    exec scripts/run.sh "${2:-all}"
    ;;
  health)
    exec "$VENV/bin/python" -c "import sys, urllib.request
try:
    urllib.request.urlopen('http://127.0.0.1:$bind_port/api/health', timeout=4)
except Exception as exc:
    sys.exit(f'unhealthy: {exc}')"
    ;;
  *)
    echo "usage: $0 install|build|start [all|web|worker]|health" >&2
    exit 2
    ;;
esac
