#!/usr/bin/env bash
# Installs the Debian packages the tests run as real servers on loopback, when missing.
# Required: the suite needs them. Optional: a test skips, saying why, when one is missing.
set -euo pipefail
required=(git docker-registry buildah podman containerd docker.io docker-compose)
optional=(chromium bubblewrap mmdebstrap ruby puma ruby-rack ruby-concurrent)
missing() { for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done; }
need=($(missing "${required[@]}"))
want=($(missing "${optional[@]}"))
[ ${#need[@]} -eq 0 ] && [ ${#want[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ${#want[@]} -gt 0 ]; then
  echo "installing optional Debian packages: ${want[*]}"
  $sudo apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null || echo "warning: could not install ${want[*]}; their tests will skip"
fi
