"""hotline: composition root (settings, CLI, app wiring, logging) and the web layer."""
