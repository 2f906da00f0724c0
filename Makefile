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
# run, web and worker need not call it: each process migrates (and the web server collects static files)
# itself at start, only when something changed (core/startup.py).
migrate: $(VENV)/.installed
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input -v 0

run: $(VENV)/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/run.sh

web: $(VENV)/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/run.sh web

worker: $(VENV)/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" scripts/run.sh worker

# The trade engine's rules and concurrency tests, the assistant's API (which stores what a model wrote) and the watchlist's
# race-safe cap (a per-user advisory lock there),
# run a second time on PostgreSQL (a throwaway server the suite starts itself). The 10,000-trade residue test stays on SQLite: it checks arithmetic, and inside one test
# transaction its 10,000 savepoints overflow PostgreSQL's subtransaction cache (2.5 minutes instead of seconds).
POSTGRES_TESTS := market/tests/test_bars.py market/tests/test_backfill.py alerts/tests/test_services.py alerts/tests/test_api.py webhooks/tests/test_services.py portfolio/tests/test_services.py portfolio/tests/test_trade_sql.py portfolio/tests/test_properties.py portfolio/tests/test_concurrency.py \
	portfolio/tests/test_selectors.py portfolio/tests/test_orders.py \
	assistant/tests/test_api.py assistant/tests/test_services.py market/tests/test_services.py accounts/tests \
	--deselect portfolio/tests/test_properties.py::test_ten_thousand_trades_leave_no_residue

test: $(VENV)/.installed-dev
	$(PY) -m pytest
	$(PY) -m pytest --postgres $(POSTGRES_TESTS)

bench: $(VENV)/.installed-dev
	@echo "Benchmarks are run one by one; see bench/README.md."

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .hypothesis
