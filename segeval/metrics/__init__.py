"""Pure metric functions: arrays in, arrays out; no files, pandas or printing."""
