# hwflow: `make demo` and `make test` each install what they need into .venv (idempotent).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= 2

.PHONY: demo test test-slow bench check-system clean

check-system:
	@for t in g++ make perl; do command -v $$t >/dev/null 2>&1 || { \
	  echo "error: '$$t' is missing: install it (Debian/Ubuntu: apt-get install g++ make perl)"; exit 1; }; done
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { \
	  echo "error: Python >= 3.10 is needed (found $$($(PYTHON) --version))"; exit 1; }

# install.sh is the one install recipe (the Dockerfile runs it too)
$(STAMP): pyproject.toml install.sh | check-system
	$(PYTHON) -m venv $(VENV)
	sh install.sh $(PY)
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m hwflow train --model tfc-w1a1 --dataset digits --out runs/tfc
	$(PY) -m hwflow build runs/tfc/model.onnx --board Pynq-Z1 --out build/tfc
	$(PY) -m hwflow.demo runs/tfc build/tfc

test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -q

test-slow: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -q -m slow

# the README's results table: the zoo at the default Pynq-Z1 folding and at --target-fps max,
# Yosys counts included (~45 min on 2 cores)
bench: $(STAMP)
	$(PY) benchmarks/bench_zoo.py --folding both --json bench.json --markdown bench.md
	$(PY) benchmarks/bench_build.py --zoo tfc-w1a1

clean:
	rm -rf build runs .pytest_cache
