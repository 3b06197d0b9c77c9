# Two commands set up everything on a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The openid-client interop test's Node packages, exactly as locked (tests/interop).
NODE_STAMP := tests/interop/node_modules/.installed

.PHONY: run test lint bench clean browser

# The browser tests drive Debian's Chromium; installed when missing and we may (root).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null)); \
	else echo "chromium/chromedriver missing and not root: the browser tests will skip"; fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): tests/interop/package.json tests/interop/package-lock.json
	npm ci --prefix tests/interop --no-audit --no-fund
	touch $(NODE_STAMP)

run: $(STAMP)
	$(BIN)/authgate serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

test: lint $(NODE_STAMP) browser
	$(BIN)/pytest -q

bench: $(STAMP)
	npm ci --prefix bench/peers --no-audit --no-fund
	$(BIN)/python bench/login.py
	$(BIN)/python bench/oauth.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/interop/node_modules \
	  bench/peers/node_modules
