"""The commands that run the service against the switchboard emulator in place of Asterisk:
``hotline demo`` and ``hotline simulate``. With tests and benchmarks, the only code that may
import ``switchboard`` (an import-linter contract in pyproject.toml)."""
