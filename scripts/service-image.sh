#!/usr/bin/env bash
# Builds the service image from the Dockerfile with buildah, and pushes it when told where:
#
#   scripts/service-image.sh [DESTINATION]     # e.g. docker://127.0.0.1:5000/startpoints:abc1234
#                                              #   or oci:build/service:startpoints:abc1234
#
# No base image need be pullable: with BASE unset, the base is a Debian bookworm rootfs made by
# mmdebstrap from Debian's own packages (python3, python3-venv, tini, git), cached under
# $XDG_CACHE_HOME/startpoints by its package list. startpoints and its dependencies come from a
# wheelhouse built on the host (build/wheelhouse), so the build itself fetches nothing.
#
# Environment: BASE (an image reference to build on instead), TAG (default
# localhost/startpoints:<sha7>), PYTHON (default .venv/bin/python), BUILDAH_ROOT (buildah's
# storage, default build/buildah; vfs, so it works without overlay or fuse).
set -euo pipefail
cd "$(dirname "$0")/.."
destination="${1:-}"
python="${PYTHON:-.venv/bin/python}"
sha="$(git rev-parse HEAD)"  # served as /sha: the commit the image is built from
tag="${TAG:-localhost/startpoints:${sha:0:7}}"
root="${BUILDAH_ROOT:-build/buildah}"
storage=(--root "$root/root" --runroot "$root/runroot" --storage-driver vfs)
export BUILDAH_ISOLATION=chroot

command -v buildah >/dev/null || { echo "error: buildah is not installed (Debian package buildah)" >&2; exit 2; }

echo "wheelhouse: startpoints and its dependencies, as this venv has them (build/wheelhouse)"
rm -rf build/wheelhouse
mkdir -p build
"$python" -m pip freeze --exclude-editable >build/constraints.txt
"$python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir build/wheelhouse \
  --constraint build/constraints.txt .

base="${BASE:-}"
if [ -z "$base" ]; then
  command -v mmdebstrap >/dev/null || { echo "error: mmdebstrap is not installed (Debian package mmdebstrap); or set BASE" >&2; exit 2; }
  packages="python3,python3-venv,tini,git,ca-certificates"
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/startpoints"
  key="$(printf 'bookworm %s' "$packages" | sha256sum | cut -c1-12)"
  rootfs="$cache/debian-bookworm-$key.tar"
  if [ ! -s "$rootfs" ]; then
    echo "base: a Debian bookworm rootfs by mmdebstrap ($packages)"
    mkdir -p "$cache"
    mmdebstrap --quiet --variant=minbase --include="$packages" \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      bookworm "$rootfs.partial" http://deb.debian.org/debian
    mv "$rootfs.partial" "$rootfs"
  fi
  base="localhost/startpoints-base:bookworm-$key"
  if ! buildah "${storage[@]}" inspect --type image "$base" >/dev/null 2>&1; then
    echo "base: importing $rootfs as $base"
    container="$(buildah "${storage[@]}" from scratch)"
    buildah "${storage[@]}" add --quiet "$container" "$rootfs" / >/dev/null
    buildah "${storage[@]}" commit --quiet --rm "$container" "$base" >/dev/null
  fi
fi

echo "build: $tag on $base"
buildah "${storage[@]}" bud --quiet --isolation chroot --format docker --layers=false \
  --build-arg BASE="$base" --build-arg SHA="$sha" --tag "$tag" . >/dev/null
if [ -n "$destination" ]; then
  echo "push: $destination"
  buildah "${storage[@]}" push --quiet --format v2s2 --tls-verify=false "$tag" "$destination"
fi
echo "$tag"
