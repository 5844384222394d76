#!/usr/bin/env bash
# `make dist`: the release tarball for a non-container install,
#   target/dist/sidegate-<version>-<target>.tar.gz
# laid out as
#   sidegate-<version>-<target>/
#     bin/sidegate                      the release binary
#     share/sidegate/sidegate.service   the hardened systemd unit (README, "Without containers")
#     share/sidegate/systemd.env.example
#     share/sidegate/apps.example.toml  app profiles, annotated
#     share/doc/sidegate/README.md
#     share/doc/sidegate/LICENSE-*      when present
# DIST_BIN names a binary to pack instead of building one (the tests use the debug build);
# DIST_TARGET names its target triple (default: the host's).
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
target=${DIST_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
bin=${DIST_BIN:-}
if [ -z "$bin" ]; then
  echo "building sidegate $version for $target (release)"
  cargo build --release --locked --bin sidegate
  bin=target/release/sidegate
fi
out=${DIST_DIR:-target/dist}
name="sidegate-$version-$target"
stage="$out/$name"
rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/share/sidegate" "$stage/share/doc/sidegate"
install -m 0755 "$bin" "$stage/bin/sidegate"
install -m 0644 deploy/sidegate.service deploy/systemd.env.example deploy/apps.example.toml "$stage/share/sidegate/"
install -m 0644 README.md "$stage/share/doc/sidegate/"
for f in LICENSE*; do [ -e "$f" ] && install -m 0644 "$f" "$stage/share/doc/sidegate/"; done
tar -C "$out" --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "$out/$name.tar.gz"
