# odtool: two entry points that work on a fresh machine.
#   make demo   set up the environment, then train -> freeze -> export -> bench on synthetic data
#   make test   set up the environment, then run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.odtool-installed
DEMO_DIR ?= demo-out

.PHONY: demo test venv clean

venv: $(STAMP)

# torch is installed first and on its own, pinned, so pip takes the local CPU build instead
# of resolving an unpinned torch to a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: venv
	$(BIN)/odtool demo --out $(DEMO_DIR)

test: venv
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
