"""What runs inside a research session's server: its configuration and the no-download guard."""
