#!/usr/bin/env bash
# install-deps.sh: installs the Debian 12 packages that build, test and benchmark meshcache.
# Idempotent and non-interactive; run as root (or with sudo available).
#   packaging/install-deps.sh            build + test dependencies
#   packaging/install-deps.sh --bench    also the benchmark baseline tools
#   packaging/install-deps.sh --image    also the container tools (buildah, podman, debootstrap)
#   packaging/install-deps.sh --npm      also the npm build clients used by the tests (Bazel 2.1.0)
set -euo pipefail

want_bench=0 want_image=0 want_npm=1
for a in "$@"; do
  case "$a" in
    --bench) want_bench=1 ;;
    --image) want_image=1 ;;
    --npm) want_npm=1 ;;
    --no-npm) want_npm=0 ;;
    *) echo "install-deps.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

build_pkgs=(
  build-essential cmake ninja-build pkg-config git clang libclang-rt-14-dev clang-format
  libssl-dev libcurl4-openssl-dev librocksdb-dev libnghttp2-dev libevent-dev
  libhttp-parser-dev libfmt-dev libspdlog-dev nlohmann-json3-dev libcli11-dev catch2
)
test_pkgs=(curl nghttp2-client ccache gcc python3 procps)
bench_pkgs=(nginx-light wrk)
image_pkgs=(buildah podman debootstrap)

pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}")
[ "$want_image" = 1 ] && pkgs+=("${image_pkgs[@]}")

# Node.js may come from elsewhere (with npm bundled); only ask apt for what is absent, since
# Debian's npm conflicts with such a nodejs.
if [ "$want_npm" = 1 ]; then
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps.sh: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm clients live in a project-local prefix so the tests find them without touching the system.
if [ "$want_npm" = 1 ]; then
  here="$(cd "$(dirname "$0")/.." && pwd)"
  prefix="$here/.deps/npm"
  if [ ! -x "$prefix/node_modules/@bazel/bazel-linux_x64/bazel-2.1.0-linux-x86_64" ] && \
     [ ! -x "$prefix/node_modules/.bin/bazel" ]; then
    mkdir -p "$prefix"
    (cd "$prefix" && npm install --no-audit --no-fund --silent @bazel/bazel-linux_x64@2.1.0)
  fi
fi
[ "$want_bench" = 1 ] || true
echo "install-deps.sh: dependencies present"
