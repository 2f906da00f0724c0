#!/usr/bin/env bash
# Start FinAlly in Docker (macOS, and Linux too): build the image if there is none (--build rebuilds it), run
# it with the data volume, the port and .env, wait until it is healthy, print the URL and open the browser.
# Running it again while FinAlly runs only prints the URL (with --build it replaces the container).
#   scripts/start_mac.sh [--build] [--port N] [--no-browser]
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${FINALLY_IMAGE:-finally}
NAME=${FINALLY_CONTAINER:-finally}
VOLUME=${FINALLY_VOLUME:-finally-data}
port=${FINALLY_PORT:-8000}
build=false
browser=true
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=true ;;
    --port) port=${2:?--port needs a number}; shift ;;
    --no-browser) browser=false ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
url="http://localhost:$port"

if ! command -v docker >/dev/null 2>&1; then
  echo "Docker is not installed (or not on PATH): install Docker Desktop, start it, and run this again." >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "Docker is installed but not running: start Docker Desktop and run this again." >&2
  exit 1
fi

open_browser() {
  $browser || return 0
  if command -v open >/dev/null 2>&1; then open "$url"
  elif command -v xdg-open >/dev/null 2>&1; then xdg-open "$url" >/dev/null 2>&1 || true
  fi
}

if $build || ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "Building the $IMAGE image..."
  docker build -t "$IMAGE" .
fi

if [ -n "$(docker ps -q --filter "name=^/${NAME}\$")" ]; then
  if ! $build; then
    echo "FinAlly is already running at $url"
    open_browser
    exit 0
  fi
  echo "Replacing the running container with the new image (the data volume stays)..."
  docker stop "$NAME" >/dev/null
fi
docker rm "$NAME" >/dev/null 2>&1 || true  # a stopped container of ours, from an earlier run

env_file=()
[ -f .env ] && env_file=(--env-file .env)
docker run -d --name "$NAME" \
  -p "127.0.0.1:$port:8000" \
  -v "$VOLUME:/app/db" \
  ${env_file[@]+"${env_file[@]}"} \
  "$IMAGE" >/dev/null

printf "Starting FinAlly"
for _ in $(seq 1 90); do
  state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$NAME" 2>/dev/null || echo gone)
  case "$state" in
    "running healthy") echo; echo "FinAlly is running at $url (data in the Docker volume $VOLUME)"; open_browser; exit 0 ;;
    running*) printf "." ; sleep 1 ;;
    *) echo; echo "The container stopped ($state). Its log:" >&2; docker logs --tail 50 "$NAME" >&2; exit 1 ;;
  esac
done
echo
echo "FinAlly did not report healthy within 90 s; see: docker logs $NAME" >&2
exit 1
