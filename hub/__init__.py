"""The hub: sign-on, data-use agreement, approved projects and isolated research sessions."""
