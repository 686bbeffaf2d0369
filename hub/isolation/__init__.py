"""Operating-system isolation of research sessions: accounts, the sandbox, its network, limits."""
