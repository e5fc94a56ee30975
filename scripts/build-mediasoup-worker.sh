#!/usr/bin/env bash
# Builds mediasoup-worker offline from the C++ sources shipped inside the
# mediasoup npm package, against Debian (bookworm) system libraries instead of
# the meson wraps mediasoup would download.
#
#   Result: ${SFT_CACHE_DIR:-$HOME/.cache/federated-sft}/mediasoup-worker-<version>-<build id>/mediasoup-worker
#   (the build id, scripts/mediasoup-worker/build-id, changes whenever the patches do)
#
# node_modules/mediasoup is never modified: the sources are copied to a
# temporary build dir under the cache, patched there (see
# scripts/mediasoup-worker/), built, and the build dir is removed.
# Takes ~6 minutes on 2 cores; exits immediately when the binary is cached.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PATCH_DIR="$ROOT/scripts/mediasoup-worker"
MS_DIR="${MEDIASOUP_DIR:-$ROOT/node_modules/mediasoup}"

log() { printf '[mediasoup-worker] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -f "$MS_DIR/package.json" ] || die "mediasoup not found at $MS_DIR (run npm install first)"
VERSION="$(node -p 'require(process.argv[1]).version' "$MS_DIR/package.json")"
BUILD_ID="$(tr -d '[:space:]' <"$PATCH_DIR/build-id")"
CACHE_DIR="${SFT_CACHE_DIR:-$HOME/.cache/federated-sft}"
TARGET_DIR="$CACHE_DIR/mediasoup-worker-$VERSION-$BUILD_ID"
TARGET="$TARGET_DIR/mediasoup-worker"

# The worker refuses to start without MEDIASOUP_VERSION and exits with 41:
# getting exactly 41 proves the binary and all its shared libraries load.
worker_runs() {
	[ -x "$1" ] || return 1
	local rc=0
	env -u MEDIASOUP_VERSION "$1" </dev/null >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 41 ]
}

if worker_runs "$TARGET"; then
	exit 0
fi

mkdir -p "$TARGET_DIR"

# One build at a time (e.g. `npm start` and `npm test` racing on a fresh box).
if command -v flock >/dev/null 2>&1; then
	exec 9>"$TARGET_DIR/.build.lock"
	flock 9
	if worker_runs "$TARGET"; then
		exit 0
	fi
fi

# --- build dependencies -----------------------------------------------------
BUILD_DEPS=(
	g++ meson ninja-build pkg-config
	libuv1-dev libssl-dev libsrtp2-dev libusrsctp-dev libabsl-dev
	libflatbuffers-dev flatbuffers-compiler
)

if command -v dpkg-query >/dev/null 2>&1; then
	missing=()
	for pkg in "${BUILD_DEPS[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		if [ "$(id -u)" -eq 0 ]; then
			log "installing build dependencies: ${missing[*]}"
			export DEBIAN_FRONTEND=noninteractive
			apt-get update -qq >/dev/null
			apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
		else
			die "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})"
		fi
	fi
fi

for tool in meson ninja pkg-config flatc c++; do
	command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found in PATH"
done

# --- copy sources -----------------------------------------------------------
log "building mediasoup-worker $VERSION from source (takes several minutes)"
start=$SECONDS
BUILD_DIR="$(mktemp -d "$CACHE_DIR/build-mediasoup-worker-$VERSION.XXXXXX")"
LOG="$BUILD_DIR/build.log"
SAVED_LOG="$TARGET_DIR/build-failed.log"

cleanup() {
	local rc=$?
	if [ "$rc" -ne 0 ] && [ -f "$LOG" ]; then
		cp "$LOG" "$SAVED_LOG" 2>/dev/null || true
		log "build failed; last lines of the log (full log: $SAVED_LOG):"
		tail -n 40 "$LOG" >&2 || true
	fi
	if [ -z "${SFT_KEEP_WORKER_BUILD:-}" ]; then
		rm -rf "$BUILD_DIR"
	else
		log "keeping build dir $BUILD_DIR"
	fi
}
trap cleanup EXIT

SRC="$BUILD_DIR/worker"
mkdir -p "$SRC"
# Everything but build output and the wrap-based subprojects.
tar -C "$MS_DIR/worker" --exclude=./out --exclude=./subprojects --exclude=./prebuild --exclude=./pip_invoke -cf - . |
	tar -C "$SRC" -xf -

# --- local subprojects wrapping the system libraries ------------------------
mkdir -p "$SRC/subprojects"
cp -R "$PATCH_DIR/subprojects/." "$SRC/subprojects/"
mkdir -p "$SRC/subprojects/libsrtp2/include"
cp "$PATCH_DIR/srtp-compat.h" "$SRC/subprojects/libsrtp2/include/srtp.h"
for dir in "$SRC"/subprojects/*/; do
	cp "$PATCH_DIR/stub.c" "$dir"
done

# --- patches ----------------------------------------------------------------
# Debian bookworm ships meson 1.0.1; the worker asks for >= 1.1.0 but builds
# fine with 1.0.1.
sed -i -E "s/meson_version *: *'[^']*'/meson_version: '>= 1.0.1'/" "$SRC/meson.build"
grep -q "meson_version: '>= 1.0.1'" "$SRC/meson.build" || die "meson_version patch did not apply"

# DTLS BIO callback fix (see the comment in the sed file).
sed -i -f "$PATCH_DIR/dtls-bio-callback.sed" "$SRC/src/RTC/DtlsTransport.cpp"
grep -q 'operationType & BIO_CB_RETURN' "$SRC/src/RTC/DtlsTransport.cpp" ||
	die "DTLS BIO callback patch did not apply (src/RTC/DtlsTransport.cpp changed upstream?)"

# Consumers: drop sequence numbers only of the stream being sent, and not
# while paused (mediasoup PR #1549's intent): fewer gaps for viewers at
# simulcast layer switches, and paused consumers stop costing a std::set
# entry per packet.
patch -p1 -s -d "$SRC" <"$PATCH_DIR/consumer-seq-drops.patch" || die "consumer sequence-number patch did not apply"

# --- configure and build ----------------------------------------------------
OUT="$BUILD_DIR/out"
log "configuring (meson)"
meson setup "$OUT" "$SRC" \
	--buildtype release \
	-Db_ndebug=true \
	--wrap-mode=nodownload \
	-Dms_disable_liburing=true \
	>>"$LOG" 2>&1

log "generating FlatBuffers headers"
ninja -C "$OUT" fbs/FBS >>"$LOG" 2>&1

log "compiling (ninja)"
ninja -C "$OUT" mediasoup-worker >>"$LOG" 2>&1

worker_runs "$OUT/mediasoup-worker" || die "built binary does not run"

# Atomic install: copy next to the target, then rename over it.
cp "$OUT/mediasoup-worker" "$TARGET.tmp.$$"
chmod 0755 "$TARGET.tmp.$$"
mv -f "$TARGET.tmp.$$" "$TARGET"
rm -f "$SAVED_LOG"

log "done in $((SECONDS - start))s: $TARGET"
