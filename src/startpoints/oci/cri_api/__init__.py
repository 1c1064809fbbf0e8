"""Generated gRPC stubs for the CRI ImageService (scripts/gen-cri.sh); do not edit."""
