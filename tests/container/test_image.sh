#!/usr/bin/env bash
# test_image.sh: builds packaging/Containerfile without a Docker daemon (buildah, vfs storage, a
# Debian 12 base made with debootstrap from this machine's apt mirror) and runs the node inside it:
# `meshcache status` as the health check, then a PUT and a GET with a bearer token over loopback.
# Opt-in (slow: a full build inside the image): MESHCACHE_TEST_IMAGE=1 tests/container/test_image.sh
# MESHCACHE_IMAGE_CACHE (default /var/tmp/meshcache-image-test) keeps the storage and the base image
# between runs. Needs root and `packaging/install-deps.sh --image`.
set -euo pipefail

if [ "${MESHCACHE_TEST_IMAGE:-}" != 1 ]; then
  echo "skipped: set MESHCACHE_TEST_IMAGE=1"
  exit 0
fi

root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${MESHCACHE_IMAGE_CACHE:-/var/tmp/meshcache-image-test}"
base=localhost/debian:bookworm-slim
image=localhost/meshcache:test
start=$(date +%s)
step() { echo "[$(($(date +%s) - start)) s] $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

for tool in buildah podman debootstrap curl; do
  command -v "$tool" >/dev/null || fail "$tool missing: run packaging/install-deps.sh --image"
done

# The overlay driver does not work on this kind of machine; a graphroot of our own keeps vfs from
# clashing with any other storage configuration on the host.
mkdir -p "$cache"
cat >"$cache/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$cache/run"
graphroot = "$cache/storage"
EOF
export CONTAINERS_STORAGE_CONF="$cache/storage.conf"

apt_mirror() {
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '$1 == "URIs:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  elif [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

if ! podman image exists "$base"; then
  mirror="$(apt_mirror)"
  step "making $base with debootstrap from $mirror"
  rootfs="$(mktemp -d /var/tmp/meshcache-rootfs.XXXXXX)"
  chmod 0755 "$rootfs"  # becomes the image's "/": mktemp's 0700 would lock out the meshcache user
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log"; fail "debootstrap"; }
  tar -C "$rootfs" -c . | podman import - "$base" >>"$cache/debootstrap.log" 2>&1
  rm -rf "$rootfs"
else
  step "reusing $base"
fi

step "building $image"
buildah bud --isolation chroot --format docker --build-arg "BASE=$base" -t "$image" \
  -f "$root/packaging/Containerfile" "$root" >"$cache/build.log" 2>&1 ||
  { tail -40 "$cache/build.log"; fail "buildah bud (log: $cache/build.log)"; }
step "built $image"

config="$(buildah inspect --type image "$image")"
for want in '"MESHCACHE_LISTEN=0.0.0.0:4000"' '"MESHCACHE_DATA_DIR=/var/lib/meshcache"' '"meshcache",' \
  '"status"' '"User": "meshcache"' '"4000/tcp"'; do
  grep -q -- "$want" <<<"$config" || fail "image config lacks $want"
done

work="$(mktemp -d /var/tmp/meshcache-image-run.XXXXXX)"
container=""
node_pid=""
cleanup() {
  if [ -n "$node_pid" ]; then
    kill -TERM -- "-$node_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 -- "-$node_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$node_pid" 2>/dev/null || true
  fi
  [ -z "$container" ] || buildah rm "$container" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token="it-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
token_hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
# The tokens file holds only the token's SHA-256 and its grants (docs/quick-start.md#tokens).
printf '{"tokens": [{"name": "image-test", "sha256": "%s", "write": ["*"]}]}\n' "$token_hash" \
  >"$work/tokens"

container=$(buildah from "$image")
buildah copy --chown meshcache:meshcache "$container" "$work/tokens" /etc/meshcache/tokens >/dev/null
# `buildah run` applies the image's env and user but not its entrypoint; it shares the host
# network, so the node listens on this machine. setsid gives the node a process group to stop.
env_args=(-e MESHCACHE_LISTEN="0.0.0.0:$port" -e MESHCACHE_AUTH=tokens
  -e MESHCACHE_AUTH_TOKENS_FILE=/etc/meshcache/tokens)
setsid buildah run --isolation chroot "${env_args[@]}" "$container" -- meshcache run \
  >"$work/node.log" 2>&1 &
node_pid=$!

step "waiting for the node on port $port"
healthy=0
for _ in $(seq 600); do
  kill -0 "$node_pid" 2>/dev/null || { cat "$work/node.log"; fail "node exited"; }
  if buildah run --isolation chroot "$container" -- meshcache status >"$work/status.out" 2>&1; then
    healthy=1
    break
  fi
  sleep 0.1
done
[ "$healthy" = 1 ] || { cat "$work/node.log" "$work/status.out"; fail "meshcache status never healthy"; }
step "health check passed: meshcache status exit 0, $(grep -o '"state": *"[a-z]*"' "$work/status.out")"

url="http://127.0.0.1:$port/cache/image-test/key1"
head -c 65536 /dev/urandom >"$work/body"
code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H "Authorization: Bearer $token" \
  --data-binary @"$work/body" "$url")
[ "$code" = 200 ] || fail "PUT answered $code"
curl -sS -f -H "Authorization: Bearer $token" -o "$work/got" "$url" || fail "GET failed"
cmp -s "$work/body" "$work/got" || fail "GET returned other bytes than the PUT"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$url")
[ "$code" = 401 ] || fail "GET without a token answered $code, want 401"

step "PASS: image builds, node serves PUT+GET with a token, 401 without, status healthy"
