#!/usr/bin/env bash
# Builds and runs tests/consumer against this checkout as a new user would: (1) with pagedkv under
# subprojects/, (2) against `meson install`'s headers and pagedkv.pc. Prints "consumer: ok" on success.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/tests/consumer" "$work/sub"
mkdir -p "$work/sub/subprojects"
mkdir -p "$work/sub/subprojects/pagedkv"
(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$work/sub/subprojects/pagedkv")
meson setup "$work/sub/build" "$work/sub" >/dev/null
ninja -C "$work/sub/build" >/dev/null
"$work/sub/build/consumer"

meson setup "$work/pk" "$root" --prefix "$work/prefix" -Dtests=false -Dexamples=false -Dbench=disabled -Dcuda=disabled >/dev/null
meson install -C "$work/pk" >/dev/null
cp -r "$root/tests/consumer" "$work/inst"
PKG_CONFIG_PATH="$work/prefix/lib/x86_64-linux-gnu/pkgconfig:$work/prefix/lib/pkgconfig:$work/prefix/share/pkgconfig" \
  meson setup "$work/inst/build" "$work/inst" >/dev/null
ninja -C "$work/inst/build" >/dev/null
"$work/inst/build/consumer"
echo "consumer: ok"
