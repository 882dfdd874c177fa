"""Ticket domain: categories, codes, phone numbers and the call-intake record (no I/O here)."""
