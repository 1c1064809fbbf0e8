#!/usr/bin/env bash
# Regenerates the CRI ImageService stubs and containerd's images service stubs from proto/
# (grpcio-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/startpoints/oci/cri_api
for proto in cri_image_service containerd_images; do
  python -m grpc_tools.protoc -Iproto --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" "proto/$proto.proto"
  # generated code imports its sibling as a top-level module; make it package-relative
  sed -i "s/^import ${proto}_pb2 as/from . import ${proto}_pb2 as/" "$out/${proto}_pb2_grpc.py"
done
