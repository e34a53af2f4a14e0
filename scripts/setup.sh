#!/usr/bin/env bash
# Installs the Debian packages ringwire needs to build, test and measure.
# Runs apt-get only when something is missing, so a ready machine pays nothing.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  liburing-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libhttp-parser-dev
  curl wrk apache2-utils nginx util-linux procps strace clang-format
  haproxy python3 python3-matplotlib graphviz linux-perf
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# perf/profile's flame graph needs npm; a machine whose nodejs already ships it
# (NodeSource's does) must not get Debian's npm, which conflicts with it.
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian starts nginx on port 80 when it is installed; ringwire's benchmarks start their own.
  if command -v systemctl >/dev/null && systemctl is-active -q nginx 2>/dev/null; then
    "${sudo_cmd[@]}" systemctl stop nginx || true
  fi
fi
