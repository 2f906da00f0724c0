# FinAlly: `make run` serves everything on http://localhost:$(PORT); `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# PORT and HOST are read by scripts/run.sh: from the environment or `make run PORT=8001`, else .env, else
# 8000 and 127.0.0.1. (A default here would hide the values in .env.)

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

# migrate also seeds a new database (post_migrate), and is safe to start twice at once (core's migrate).
migrate: $(VENV)/.installed
	$(PY) manage.py migrate --no-input

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
