# Set-up on a fresh machine needs only python3: every target creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
JOBS ?= 2

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[all,test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python sample_data/run_samples.py

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(JOBS)

lint: $(STAMP)
	$(BIN)/ruff check sepconv_cli tests benchmarks sample_data
	$(BIN)/ruff format --check sepconv_cli tests benchmarks sample_data

bench: $(STAMP)
	$(BIN)/python benchmarks/run_peers.py

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
