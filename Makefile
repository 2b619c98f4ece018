# elkit: `make demo` runs the main job on the shipped examples, `make test` runs the whole test suite.
# Both create .venv and install everything (torch pinned to 2.13.0 first, then the rest with that pin as a
# constraint so pip never swaps in a CUDA build).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUTPUT := output

.PHONY: install demo test lint clean chromium

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,annotate,plot,spacy,ray]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	mkdir -p $(OUTPUT)
	$(BIN)/elkit link examples/texts.jsonl --entities examples/kb/entities.jsonl --output $(OUTPUT)/linked.jsonl \
		--html $(OUTPUT)/linked.html --cache-dir $(OUTPUT)/cache
	$(BIN)/elkit apply examples/zeroshot.toml examples/texts.jsonl $(OUTPUT)/zeroshot.jsonl

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

# The browser tests drive Debian's chromium; install it when it is missing (needs root or sudo).
chromium:
	@test -x /usr/bin/chromium || { SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }; }

test: $(STAMP) lint chromium
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(OUTPUT) .pytest_cache .ruff_cache .hypothesis
