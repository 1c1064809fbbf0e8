"""Start point sources: an image ref, a `sha7@git-url`, or a local folder; each yields a tree
holding one or more start points, plus where it came from."""
