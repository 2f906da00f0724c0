# FinAlly in one image: web server + price worker, SQLite on a volume at /app/db.
#   docker build -t finally .
#   docker run -v finally-data:/app/db -p 8000:8000 --env-file .env finally
# Every step is scripts/container.sh, which the tests run outside Docker.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    VENV=/app/.venv

RUN useradd --create-home --uid 10001 finally
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt ./
COPY scripts/container.sh scripts/
RUN scripts/container.sh install

COPY . .
RUN scripts/container.sh build \
    && mkdir -p /app/db && chown finally:finally /app/db

USER finally
VOLUME /app/db
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=6s --start-period=40s --retries=3 CMD ["scripts/container.sh", "health"]
# run.sh is PID 1 (exec): it forwards SIGTERM to uvicorn and the worker and waits for both.
CMD ["scripts/container.sh", "start"]
