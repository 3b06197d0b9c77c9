# Two commands set up everything on a fresh machine: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The openid-client interop test's Node packages, exactly as locked (tests/interop).
NODE_STAMP := tests/interop/node_modules/.installed
# axe-core, which the browser tests inject to check every hosted page (tests/e2e).
E2E_NODE_STAMP := tests/e2e/node_modules/.installed
# The AWS SDK for JavaScript v3 and amazon-cognito-identity-js's SRP helper (tests/cognito_js).
COGNITO_JS_STAMP := tests/cognito_js/node_modules/.installed

.PHONY: run test lint bench clean browser promtool

# The browser tests drive Debian's Chromium; installed when missing and we may (root).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null)); \
	else echo "chromium/chromedriver missing and not root: the browser tests will skip"; fi

# tests/integration/test_metrics.py runs Prometheus' own linter on the real /metrics output:
# Debian ships promtool in the prometheus package (only the tool is wanted, not a server).
promtool:
	@if command -v promtool >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >/dev/null)); \
	  service prometheus stop >/dev/null 2>&1 || true; \
	else echo "promtool missing and not root: test_metrics checks the names with a parser only"; fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): tests/interop/package.json tests/interop/package-lock.json
	npm ci --prefix tests/interop --no-audit --no-fund
	touch $(NODE_STAMP)

$(E2E_NODE_STAMP): tests/e2e/package.json tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund
	touch $(E2E_NODE_STAMP)

$(COGNITO_JS_STAMP): tests/cognito_js/package.json tests/cognito_js/package-lock.json
	npm ci --prefix tests/cognito_js --no-audit --no-fund
	touch $(COGNITO_JS_STAMP)

# The quickstart: the whoami demo upstream and the intake service (examples/intake, its
# settings in examples/quickstart/intake.yaml) in the background, authgate in front of them.
# Ctrl-C (or authgate stopping for any reason) stops all three. tests/integration/test_readme.py
# runs this very recipe.
run: $(STAMP)
	@trap 'kill $$whoami $$intake 2>/dev/null; wait $$whoami $$intake 2>/dev/null' EXIT INT TERM; \
	PYTHONPATH=$(CURDIR) $(BIN)/python -m examples.whoami --listen 127.0.0.1:9001 \
	  --issuer http://127.0.0.1:8080 --audience whoami & whoami=$$!; \
	PYTHONPATH=$(CURDIR) $(BIN)/python -m examples.intake \
	  --config $(CURDIR)/examples/quickstart/intake.yaml & intake=$$!; \
	$(BIN)/authgate serve --config $(CURDIR)/examples/quickstart/authgate.yaml

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy src examples

# The suite on TEST_WORKERS pytest-xdist workers, each test file whole on one worker (its
# module-scoped servers are started once). Most of a test's time is spent waiting on the
# servers it drives, so one more worker than cores keeps the cores busy.
TEST_WORKERS ?= 3

# Tests start hundreds of authgate (and example) processes; where PYTHONDONTWRITEBYTECODE is
# set, as in containers, each would compile the sources afresh (~0.3 s CPU): compile them once.
test: lint $(NODE_STAMP) $(E2E_NODE_STAMP) $(COGNITO_JS_STAMP) browser promtool
	$(BIN)/python -m compileall -q src examples
	$(BIN)/pytest -q --durations=25 -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	@if command -v wrk >/dev/null && (command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]); then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk nginx >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk nginx >/dev/null)); \
	  service nginx stop >/dev/null 2>&1 || true; \
	else echo "wrk/nginx missing and not root: bench/gateway.py falls back to Python stand-ins"; fi
	npm ci --prefix bench/peers --no-audit --no-fund
	$(BIN)/python bench/login.py
	$(BIN)/python bench/oauth.py
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/policy.py
	$(BIN)/python bench/policy_write.py
	$(BIN)/python bench/cognito.py
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/cluster.py
	$(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/interop/node_modules tests/e2e/node_modules tests/cognito_js/node_modules \
	  bench/peers/node_modules tests/e2e/artifacts
