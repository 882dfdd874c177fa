"""Test support: database fixtures' helpers, a cuttable TCP proxy, a running service."""
