#!/usr/bin/env bash
# Installs Prisma 6.19.3 (its JavaScript/WASM schema engine, Prisma Client with the pg driver
# adapter) with npm into a cache outside the repository, and prints that directory. Nothing is
# downloaded at run time: Prisma 7's engine host is not needed. Safe to call repeatedly.
#   <dir>/node_modules/.bin/prisma   the CLI (run it from <dir>: <dir>/prisma.config.ts is its config)
#   MIGRATOR_PRISMA_SCHEMA           the schema.prisma the config points the CLI at
set -euo pipefail
version="6.19.3"
root="${MIGRATOR_TOOLS_DIR:-$HOME/.cache/migrator-tools}/prisma-$version"
packages=("prisma@$version" "@prisma/client@$version" "@prisma/adapter-pg@$version" "pg@8.16.3")
if [ ! -x "$root/node_modules/.bin/prisma" ] || [ ! -e "$root/node_modules/@prisma/adapter-pg/package.json" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "prisma: npm is needed to install Prisma $version (install Node.js 20 or later)" >&2
    exit 1
  fi
  echo "prisma: installing ${packages[*]} into $root" >&2
  mkdir -p "$root"
  printf '{ "name": "migrator-prisma-tools", "private": true }\n' >"$root/package.json"
  (cd "$root" && npm install --no-audit --no-fund --save-exact --loglevel=error "${packages[@]}") >&2
fi
cat >"$root/prisma.config.ts" <<'CONFIG'
// Written by migrator's .ci/prisma.sh: Prisma's JavaScript schema engine through the pg adapter.
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: process.env.MIGRATOR_PRISMA_SCHEMA ?? "schema.prisma",
  async adapter() {
    return new PrismaPg({ connectionString: process.env.DATABASE_URL });
  },
});
CONFIG
echo "$root"
