#!/usr/bin/env bash
# Idempotent machine + checkout setup; runs before every `npm start` and
# `npm test` (prestart/pretest), so it must be quick and quiet when there is
# nothing to do.
#   1. as root: apt-get install the missing Debian packages (worker build deps
#      + what the server and the tests use at runtime);
#   2. `npm ci` when node_modules is missing or older than package-lock.json;
#   3. make sure a mediasoup-worker binary exists (scripts/ensure-worker.mjs);
#   4. build the web app (client/web/dist) when its sources changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[setup] %s\n' "$*" >&2; }

APT_PACKAGES=(
	# mediasoup-worker build (scripts/build-mediasoup-worker.sh)
	g++ meson ninja-build pkg-config
	libuv1-dev libssl-dev libsrtp2-dev libusrsctp-dev libabsl-dev
	libflatbuffers-dev flatbuffers-compiler
	# runtime (libjemalloc2: the workers' malloc, media.workerAllocator) and tests
	libjemalloc2 chromium prometheus dnsmasq-base ffmpeg openssl iproute2 tcpdump
	# the soak's --heap-in-use and --heap-profile ask the workers' malloc through gdb
	gdb
)

if command -v dpkg-query >/dev/null 2>&1; then
	# One dpkg-query call for all packages keeps the common case fast.
	installed="$(dpkg-query -W -f='${Package} ${Status}\n' "${APT_PACKAGES[@]}" 2>/dev/null |
		awk '$NF == "installed" { print $1 }' || true)"
	missing=()
	for pkg in "${APT_PACKAGES[@]}"; do
		grep -qxF "$pkg" <<<"$installed" || missing+=("$pkg")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		if [ "$(id -u)" -eq 0 ]; then
			log "installing Debian packages: ${missing[*]}"
			export DEBIAN_FRONTEND=noninteractive
			apt-get update -qq >/dev/null
			apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
		else
			log "missing Debian packages (not root, not installing): ${missing[*]}"
		fi
	fi
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	log "installing npm dependencies (npm ci)"
	# npm ci runs our postinstall (ensure-worker.mjs) itself.
	npm ci --no-audit --no-fund
fi

node scripts/ensure-worker.mjs

node --import tsx scripts/build-web.ts
