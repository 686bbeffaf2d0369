"""Operating-system isolation of research sessions: accounts, egress rules, limits, namespaces."""
