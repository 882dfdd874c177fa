"""Wire-faithful Asterisk emulator for tests, demo and load: FastAGI channels and dialplan."""
