#!/usr/bin/env bash
# run.sh: builds the fuzz targets (HTTP sessions, peer-plane wire parsers) with clang (own build dir) and runs each for N seconds
# (default 30) over a scratch copy of its seed corpus. Exits non-zero when a target crashes;
# the crashing inputs are kept under <build dir>/crashes/.
#   tests/fuzz/run.sh [seconds]        env: MESHCACHE_FUZZ_BUILD_DIR (default build-fuzz)
set -euo pipefail

seconds="${1:-30}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${MESHCACHE_FUZZ_BUILD_DIR:-$root/build-fuzz}"

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DMESHCACHE_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target fuzz_http1 fuzz_http2 fuzz_wire

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=0
for kind in http1 http2 wire; do
  corpus="$scratch/corpus-$kind"
  artifacts="$build/crashes/$kind"
  mkdir -p "$corpus" "$artifacts"
  cp "$root/tests/fuzz/corpus/$kind/"* "$corpus/"
  echo "== fuzz_$kind for ${seconds}s"
  if ! "$build/tests/fuzz/fuzz_$kind" -max_total_time="$seconds" -timeout=10 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus"; then
    echo "fuzz_$kind crashed; inputs in $artifacts" >&2
    failed=1
  fi
done
exit "$failed"
