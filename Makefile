# radiopipe: the two commands of the README, and a few helpers.
# Python 3.11 (the one version CI checks); python3.11 when on PATH, else python3
PYTHON ?= $(shell command -v python3.11 2>/dev/null || echo python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# PyTorch wheel index, e.g. https://download.pytorch.org/whl/cpu (CPU-only) or .../whl/cu128;
# empty: PyPI (on Linux x86_64 the CUDA build, on macOS the CPU/MPS build)
TORCH_INDEX ?=

.PHONY: demo test env notebooks lint format clean

## demo: create the environment and run the whole study on the embedded synthetic cohort
demo: $(STAMP)
	$(BIN)/radiopipe run pipelines/demo.yaml

## test: create the environment and run the test suite (what CI runs)
test: $(STAMP)
	$(BIN)/ruff check radiopipe tests benchmarks
	$(BIN)/python -m pytest -n 2 --dist loadgroup --timeout 900

## env: create .venv with radiopipe and its test tools (then: source .venv/bin/activate)
env: $(STAMP)

## notebooks: add JupyterLab (the [notebooks] extra) and open notebooks/ (run `make demo` first)
notebooks: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[notebooks]"
	cd notebooks && ../$(BIN)/jupyter lab

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel setuptools
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install --quiet -c constraints.txt torch --index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check radiopipe tests benchmarks
	$(BIN)/ruff format --check radiopipe tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format radiopipe tests benchmarks
	$(BIN)/ruff check --fix radiopipe tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
