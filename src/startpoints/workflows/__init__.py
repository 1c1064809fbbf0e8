"""The workflows (publish, and later assemble, serve, pull) composing core, oci and sources."""
