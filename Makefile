# FinAlly: `make run` serves everything on http://localhost:$(PORT); `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
export PORT HOST

.PHONY: run web worker test migrate bench clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall only when a requirements file changed.
$(VENV)/.installed: requirements.txt $(VENV)/bin/activate
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

migrate: $(VENV)/.installed
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed
	$(PY) manage.py collectstatic --no-input -v 0

run: migrate
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/run.sh

web: migrate
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/run.sh web

worker: migrate
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/run.sh worker

test: $(VENV)/.installed-dev
	$(PY) -m pytest

bench: $(VENV)/.installed-dev
	@echo "Benchmarks are run one by one; see bench/README.md."

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .hypothesis
