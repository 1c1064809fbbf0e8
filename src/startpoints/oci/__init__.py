"""OCI mechanics: reproducible layers, images, and the stores they go to (registry, `oci:` layout)."""
