"""The pure core: manifest rules, image references and the catalog; no I/O beyond reading a folder."""
