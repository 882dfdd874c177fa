"""Helpers every layer may use (owned tasks, the log context); they import nothing of ours."""
