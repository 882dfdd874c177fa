"""Offline transcription (Vosk) of callers' recordings and category suggestion (issue: speech)."""
