"""Reports: the JSON/CSV schema, writers and terminal renderables."""
