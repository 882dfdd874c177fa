"""HTTP: REST API under /api/v1, health check; errors as {"error_id", "message"}."""
