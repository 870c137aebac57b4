# The two commands in README.md: `make run` and `make test`. Both need only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: run test install install-dev migrate demo lint format check worker beat bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: install, migrate, load the demo world, serve the console on http://127.0.0.1:8000 (ASGI)
run: install
	$(PY) manage.py migrate --no-input
	$(PY) manage.py load_demo
	$(BIN)/uvicorn config.asgi:application --host 127.0.0.1 --port 8000

## test: install dev requirements and run the whole suite
test: install-dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings_test $(PY) manage.py makemigrations --check --dry-run
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

worker: install
	$(BIN)/celery -A config worker -l info

beat: install
	$(BIN)/celery -A config beat -l info

## bench: every benchmark (inbox and nudges need PostgreSQL; see docs/benchmarks.md)
bench: install-dev
	$(PY) -m bench.llm_gateway
	$(PY) -m bench.inbox
	$(PY) -m bench.nudges

clean:
	rm -rf $(VENV) staticfiles db.sqlite3
