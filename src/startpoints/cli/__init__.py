"""The `startpoints` command: thin verbs over the library, owning no logic of their own."""
