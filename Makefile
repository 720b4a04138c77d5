# odtool: two entry points that work on a fresh machine.
#   make demo   set up the environment, then train -> freeze -> export -> bench on synthetic data
#   make test   set up the environment and the emulator, then run the test suite
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
	$(BIN)/odtool demo --out $(DEMO_DIR) --overwrite

# The suite runs a tiny model through the Pixel 2 emulator: `odtool emulator setup` provisions
# it first (idempotent: about 35 s and 67 MB the first time, 4 s to verify after).
#   EMULATOR=auto (default)  provision it; if that is impossible here (QEMU missing and no
#                            root to install it: setup prints the apt command), run the suite
#                            anyway and the emulator tests skip, saying why
#   EMULATOR=1               provisioning must work and the emulator tests must run (CI)
#   EMULATOR=0               neither
EMULATOR ?= auto

test: venv
ifeq ($(EMULATOR),1)
	$(BIN)/odtool emulator setup
	ODTOOL_REQUIRE_EMULATOR=1 $(BIN)/python -m pytest -q
else ifeq ($(EMULATOR),auto)
	@if $(BIN)/odtool emulator setup; then \
	  ODTOOL_REQUIRE_EMULATOR=1 $(BIN)/python -m pytest -q; \
	else \
	  echo "warning: the emulator could not be provisioned (see above): its tests will be skipped"; \
	  $(BIN)/python -m pytest -q; \
	fi
else
	$(BIN)/python -m pytest -q
endif

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
