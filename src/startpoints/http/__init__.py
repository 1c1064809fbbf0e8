"""The thin HTTP layer: cyber-dojo's start-points API over a served catalog and a readiness."""
