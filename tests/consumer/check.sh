#!/usr/bin/env bash
# Builds and runs tests/consumer (the README's first program) against this checkout as a new user
# would, five ways, each in a scratch directory:
#   Meson  (1) pagedkv under subprojects/   (2) `meson install`'s headers and pagedkv.pc
#   CMake  (3) find_package after the same install   (4) add_subdirectory   (5) FetchContent from a
#          local git repository; with nvcc, (3) also builds a CUDA source (pagedkv/cuda/ headers).
# Prints a line per way and "consumer: ok" when all pass. CMake ways are skipped (said) without cmake.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/log
# quiet WHAT COMMAND...: runs it, shows its output only if it fails.
quiet() { local what=$1; shift; "$@" >"$log" 2>&1 || { cat "$log"; echo "consumer: $what failed: $*" >&2; exit 1; }; }

# This checkout as a user would get it: the tracked and new files, no build directories.
mkdir -p "$work/src"
(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$work/src")

cp -r "$root/tests/consumer" "$work/sub"
mkdir -p "$work/sub/subprojects"
cp -r "$work/src" "$work/sub/subprojects/pagedkv"
quiet "meson subproject" meson setup "$work/sub/build" "$work/sub"
quiet "meson subproject" ninja -C "$work/sub/build"
echo "consumer: meson, subprojects/pagedkv: $("$work/sub/build/consumer")"

prefix=$work/prefix
quiet "meson install" meson setup "$work/pk" "$work/src" --prefix "$prefix" -Dtests=false -Dexamples=false -Dbench=disabled -Dcuda=disabled
quiet "meson install" meson install -C "$work/pk"
cp -r "$root/tests/consumer" "$work/inst"
export PKG_CONFIG_PATH="$prefix/lib/x86_64-linux-gnu/pkgconfig:$prefix/lib/pkgconfig:$prefix/share/pkgconfig"
quiet "meson pkg-config" meson setup "$work/inst/build" "$work/inst"
quiet "meson pkg-config" ninja -C "$work/inst/build"
echo "consumer: meson, pkg-config install: $("$work/inst/build/consumer")"
unset PKG_CONFIG_PATH

if ! command -v cmake >/dev/null; then
  echo "consumer: cmake not installed: the three CMake consumers are skipped (Debian: cmake)"
  echo "consumer: ok"
  exit 0
fi
# cmake_consumer NAME CMAKE_ARGS...: configures tests/consumer with CMake, builds it, runs it.
cmake_consumer() {
  local name=$1; shift
  quiet "cmake $name" cmake -S "$root/tests/consumer" -B "$work/cmake-$name" -G Ninja "$@"
  quiet "cmake $name" cmake --build "$work/cmake-$name"
  echo "consumer: cmake, $name: $("$work/cmake-$name/consumer")"
  if [ -x "$work/cmake-$name/consumer_cuda" ]; then
    echo "consumer: cmake, $name, CUDA: $("$work/cmake-$name/consumer_cuda")"
  fi
}
cuda=()
command -v nvcc >/dev/null || [ ! -x /usr/local/cuda/bin/nvcc ] || export PATH=/usr/local/cuda/bin:$PATH
command -v nvcc >/dev/null && cuda=(-DPAGEDKV_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90)
cmake_consumer find_package -DPAGEDKV_FROM=find_package -DCMAKE_PREFIX_PATH="$prefix" "${cuda[@]}"
cmake_consumer add_subdirectory -DPAGEDKV_FROM=add_subdirectory -DPAGEDKV_SOURCE_DIR="$work/src"
git_quiet() { git -C "$work/src" -c user.name=consumer -c user.email=consumer@localhost "$@" >/dev/null; }
git_quiet init -q -b main && git_quiet add -A && git_quiet commit -q -m "pagedkv for FetchContent"
cmake_consumer FetchContent -DPAGEDKV_FROM=FetchContent -DPAGEDKV_GIT_REPOSITORY="$work/src"
echo "consumer: ok"
