#!/usr/bin/env bash
# The README's own schema crate ("Your own schema crate"), built the way a user builds it: its
# Cargo.toml, src/main.rs and src/lib.rs (the worked example) taken from the README as printed,
# in a directory outside the workspace next to a link named `migrator` to this repository; then
# `--help` and a dry run over a small export of the example's two collections.
#   bash .ci/readme-crate.sh     # run by `bash .ci/test` after the tests
# The workspace's Cargo.lock and dev profile (passed with --config, the README's files stay as
# printed) let the build reuse the dependencies the tests built: it compiles migrator-derive,
# migrator and the crate itself (~20 CPU seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
log() { printf '== readme crate: %s\n' "$*" >&2; }

# One fixed directory per clone, so a second run rebuilds nothing.
dir="${TMPDIR:-/tmp}/migrator-readme-crate-$(printf '%s' "$repo" | sha1sum | cut -c1-12)"
rm -rf "$dir/my-schema"
mkdir -p "$dir/my-schema/src"
ln -sfn "$repo" "$dir/migrator"
python3 - "$repo/README.md" "$dir/my-schema" <<'PY'
import re, sys
readme, crate = sys.argv[1], sys.argv[2]
blocks = re.findall(r"```(\S*)\n(.*?)```", open(readme).read(), re.S)
def one(what, keep):
    found = [body for lang, body in blocks if keep(lang, body)]
    if len(found) != 1:
        sys.exit(f"README.md: expected one {what} block, found {len(found)}")
    return found[0]
files = {
    "Cargo.toml": one("```toml with [package]", lambda l, b: l == "toml" and "[package]" in b),
    "src/main.rs": one("```rust with fn main", lambda l, b: l.startswith("rust") and "fn main" in b),
    "src/lib.rs": one("```rust with pub fn schema", lambda l, b: l.startswith("rust") and "pub fn schema" in b),
}
for path, text in files.items():
    open(f"{crate}/{path}", "w").write(text)
PY
cp Cargo.lock "$dir/my-schema/"
log "cargo build in $dir/my-schema"
(
  cd "$dir/my-schema"
  CARGO_TARGET_DIR="$repo/target" cargo build --offline --quiet \
    --config 'profile.dev.debug="line-tables-only"' \
    --config 'profile.dev.package."*".debug=false'
)
bin="$repo/target/debug/my-schema"
"$bin" --help >/dev/null
out="$("$bin" migrate --dry-run --source "$repo/.ci/readme-crate")"
expected="6 documents read: 5 landed, 1 rejected"
if ! grep -qF "$expected" <<<"$out"; then
  log "FAIL: the dry run did not say \"$expected\":"
  printf '%s\n' "$out" >&2
  exit 1
fi
log "ok: built, and its dry run says \"$expected\""
