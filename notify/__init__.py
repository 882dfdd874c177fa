"""Citizen notifications: outbox, SMS and Zalo gateways, delivery reports (issue: notify)."""
