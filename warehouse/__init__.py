"""The pseudonymized consortium warehouse: extracts in, keyed pseudonyms and non-identifying
columns out. See README.md in this folder."""
