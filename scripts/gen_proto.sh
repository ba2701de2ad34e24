#!/usr/bin/env bash
# Regenerates rayflow/proto/rayflow/v1/*_pb2.py(i) from the .proto files (needs grpcio-tools).
# The .proto files import each other as "rayflow/v1/x.proto" (clean for other languages); the
# generated Python is rewritten to import rayflow.proto.rayflow.v1, where it lives in this package.
set -euo pipefail
cd "$(dirname "$0")/../rayflow/proto"
python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. rayflow/v1/*.proto
sed -i 's/^from rayflow\.v1 import/from rayflow.proto.rayflow.v1 import/' rayflow/v1/*_pb2.py rayflow/v1/*_pb2.pyi
