# Two commands for a new machine: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# make run and the tests are development instances; production sets DEBUG=false and SECRET_KEY.
export DEBUG ?= true
HOST ?= 127.0.0.1
PORT ?= 8000
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/cdp_bench

# The browser tests (tests/e2e) drive Debian's Chromium: never a browser downloaded by Playwright.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-postgres bench lint messages clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests (tests/e2e)."
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

run: $(BIN)/.installed
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py generate_demo_data --profiles 300 --if-empty
	$(BIN)/python manage.py create_demo_segments --if-empty
	$(BIN)/python manage.py create_demo_campaign --if-empty
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py ensure_marketer
	@echo "Starting the web server on http://$(HOST):$(PORT)/admin/, a Celery worker and beat (Ctrl-C stops all three)."
	PATH="$(CURDIR)/$(BIN):$$PATH" HOST=$(HOST) PORT=$(PORT) $(BIN)/honcho -f Procfile.dev start

test: $(BIN)/.installed $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run > /dev/null
	$(BIN)/pytest

test-postgres: $(BIN)/.installed $(CHROMIUM)
	DATABASE_URL=$${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/cdp} $(BIN)/pytest

bench: $(BIN)/.installed
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python -m bench

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

messages: $(BIN)/.installed
	$(BIN)/python manage.py makemessages -l fr --ignore=.venv --ignore=var --ignore=bench --no-obsolete
	$(BIN)/python manage.py compilemessages -l fr --ignore=.venv

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
