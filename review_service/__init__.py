"""The review service: submissions, reviewer and steward decisions, releases (issue 5)."""
