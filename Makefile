# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast warm lint bench bench-ui calibration screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

test: $(STAMP) warm
	$(BIN)/ruff check .
	$(BIN)/mypy simulation
	$(BIN)/python -m pytest -q -n 2

# Compile (and cache) every numba kernel once, in one process, before the tests: on a fresh
# machine the first compile takes minutes, and two test workers would otherwise both compile
# inside the first tests that run the engine (an AppTest run has a time limit).
warm: $(STAMP)
	$(BIN)/acosim simulate --trials 200 --format json > /dev/null
	$(BIN)/acosim simulate --trials 200 --horizon 10 --format json > /dev/null
	$(BIN)/acosim settle --track ENHANCED --year 2027 --benchmark 12000 --spending 11500 --beneficiaries 20000 > /dev/null

test-fast: $(STAMP) warm
	$(BIN)/python -m pytest -q -n 2 -m "not browser and not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy simulation

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_settlement.py
	$(BIN)/python benchmarks/bench_settlement.py --money-only
	$(BIN)/python benchmarks/bench_engine.py

calibration: $(STAMP)
	$(BIN)/acosim calibrate --data ../shared/data

screenshots: $(STAMP)
	$(BIN)/python benchmarks/screenshots.py

bench-ui: $(STAMP)
	$(BIN)/python benchmarks/bench_ui.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info
