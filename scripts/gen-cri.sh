#!/usr/bin/env bash
# Regenerates the CRI ImageService stubs from proto/cri_image_service.proto (grpcio-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
out=src/startpoints/oci/cri_api
python -m grpc_tools.protoc -Iproto --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" proto/cri_image_service.proto
# generated code imports its sibling as a top-level module; make it package-relative
sed -i 's/^import cri_image_service_pb2 as/from . import cri_image_service_pb2 as/' "$out/cri_image_service_pb2_grpc.py"
