# `make demo` and `make test` each install everything they need on a fresh machine.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
STAMP := .make/installed

.PHONY: install system-deps demo test lint bench clean

# Debian packages: the real HOL Light and the num library its toplevel needs; Chromium and its driver for the
# trace visualiser's browser test.
DEBS := hol-light libnum-ocaml-dev chromium chromium-driver
system-deps:
	@if ! dpkg -s $(DEBS) >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS); \
	fi

# torch first, pinned to the CPU wheel, so nothing later pulls in the CUDA build.
$(STAMP): setup.cfg pyproject.toml
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[all,dev]"
	@mkdir -p .make && touch $(STAMP)

install: system-deps $(STAMP)

# The main job: rounds of prove -> train -> reload -> evaluate on SR-v0 (about 6 minutes on 2 cores); the curve is
# runs/sr_demo/curve.png, and `tensorboard --logdir runs/` shows every scalar.
demo: install
	OMP_NUM_THREADS=1 aitp loop configs/sr_demo.yaml --out runs/sr_demo --overwrite

test: install
	ruff check .
	$(PYTHON) -m pytest -q

bench: install
	$(PYTHON) bench/sr.py
	$(PYTHON) bench/holist.py
	$(PYTHON) bench/planners.py

clean:
	rm -rf .make runs build *.egg-info .pytest_cache
