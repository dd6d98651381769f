# Clipzy Engine. `make run TEMPLATE=... FOOTAGE=...` and `make test` do all the set-up they need.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_STAMP := .make/system
OUT ?= out
TEMPLATE ?=
FOOTAGE ?=
# The CPU build of torch lies here on the build machines; elsewhere pip takes it from PyPI.
WHEELS := $(wildcard /opt/wheels)
PIP_FLAGS := $(if $(WHEELS),--find-links $(WHEELS),)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system run test bench bench-4k bench-accuracy lint format triton gpu-check clean

setup: $(SYSTEM_STAMP) $(STAMP)

system: $(SYSTEM_STAMP)

# System packages: ffmpeg (with libx264) from the distribution. Skipped when already there.
$(SYSTEM_STAMP):
	@if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then \
		echo "installing ffmpeg"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq ffmpeg >/dev/null; \
	fi
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	@mkdir -p $(dir $@) && touch $@

# The virtual environment, rebuilt only when the project's dependencies change.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check $(PIP_FLAGS) -e ".[dev]"
	@touch $@

run: setup
	@test -n "$(TEMPLATE)" -a -n "$(FOOTAGE)" || \
		{ echo "usage: make run TEMPLATE=<video> FOOTAGE=<video> [OUT=out]"; exit 2; }
	@mkdir -p "$(OUT)"
	$(BIN)/clipzy apply "$(TEMPLATE)" "$(FOOTAGE)" -o "$(OUT)/output.mp4"

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

bench: setup
	$(BIN)/python benchmarks/bench.py

# A 4K template of a minute: peak memory (with the ffmpeg decoder) and speed, beside decord.
bench-4k: setup
	$(BIN)/python benchmarks/long_4k.py $(BENCH_ARGS)

# Accuracy beside the peers (PySceneDetect, TransNetV2, librosa, color-matcher, pyloudnorm),
# one table per task; BENCH_ARGS="beats --quick" narrows it.
bench-accuracy: setup
	$(BIN)/python -m benchmarks.accuracy $(BENCH_ARGS)

# Triton Inference Server on its usual ports (HTTP 8000, gRPC 8001, metrics 8002), serving
# model_repository/ from this environment. Then: CLIPZY_TRITON_URL=grpc://127.0.0.1:8001.
triton: setup
	$(BIN)/python -m pipelines.triton_server $(TRITON_ARGS)

# On a GPU host: models on CUDA, Triton with KIND_GPU, DALI decoding, colour transfer.
gpu-check: setup
	$(BIN)/python benchmarks/gpu_check.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .make $(OUT) .pytest_cache .ruff_cache
