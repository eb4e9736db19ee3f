# Two commands for users: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck services install client clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	$(PY) -m pip install -q -e clients/python
	@touch $(STAMP)

install: $(STAMP)

services:
	@bash scripts/services.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy api worker core cli

test: $(STAMP) services lint typecheck
	OMP_NUM_THREADS=1 $(PY) -m pytest -q --durations=15

demo: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/reassembly demo

# Regenerate the Python client in clients/python from the API's OpenAPI document.
client: $(STAMP)
	mkdir -p build
	$(VENV)/bin/reassembly openapi --out build/openapi.json
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/openapi-python-client generate \
		--path build/openapi.json --output-path clients/python --meta setup --overwrite

clean:
	rm -rf var build *.egg-info .pytest_cache .mypy_cache .ruff_cache
