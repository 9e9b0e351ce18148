#!/usr/bin/env bash
# Installs SecantusDB's Mongo-wire server (GPL-2.0, never a dependency of any crate) into a cache
# outside the repository, and prints the path of its binary. Safe to call repeatedly.
set -euo pipefail
version="=0.5.3-beta.196"
root="${MIGRATOR_TOOLS_DIR:-$HOME/.cache/migrator-tools}/secantus-0.5.3-beta.196"
find_bin() { find "$root/bin" -maxdepth 1 -type f -perm -u+x -name 'secantusd*' 2>/dev/null | head -n 1 || true; }
bin="$(find_bin)"
if [ -z "$bin" ]; then
  if ! command -v cmake >/dev/null 2>&1; then
    echo "secantus: installing cmake (apt)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake) >&2
  fi
  echo "secantus: building secantus-mdb $version into $root (about 5 minutes cold)" >&2
  cargo install --locked --ignore-rust-version --root "$root" --version "$version" secantus-mdb >&2
  bin="$(find_bin)"
fi
if [ -z "$bin" ]; then
  echo "secantus: no secantusd binary found under $root/bin after install" >&2
  exit 1
fi
echo "$bin"
