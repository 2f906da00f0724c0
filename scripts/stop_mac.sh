#!/usr/bin/env bash
# Stop FinAlly's container (web server and price worker stop cleanly) and remove it. The data volume is
# kept: scripts/start_mac.sh brings everything back. Safe to run when nothing is running.
set -euo pipefail

NAME=${FINALLY_CONTAINER:-finally}
VOLUME=${FINALLY_VOLUME:-finally-data}

if ! command -v docker >/dev/null 2>&1; then
  echo "Docker is not installed: nothing to stop."
  exit 0
fi
# Not running, Docker cannot say whether FinAlly is: say so in one line rather than pass on the client's error.
if ! docker info >/dev/null 2>&1; then
  echo "Docker is installed but not running: start Docker Desktop, then run this again to stop FinAlly." >&2
  exit 1
fi
if [ -z "$(docker ps -aq --filter "name=^/${NAME}\$")" ]; then
  echo "FinAlly is not running."
  exit 0
fi
docker stop "$NAME" >/dev/null 2>&1 || true
docker rm "$NAME" >/dev/null
echo "FinAlly stopped. Your data is kept in the Docker volume $VOLUME (docker volume rm $VOLUME deletes it)."
