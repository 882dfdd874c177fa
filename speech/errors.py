"""Errors of speech intake, each with a stable id."""

from __future__ import annotations


class SpeechError(Exception):
    error_id = "speech-error"


class ModelError(SpeechError):
    """The Vosk model directory is missing, incomplete or cannot be loaded."""

    error_id = "speech-model-invalid"


class AudioError(SpeechError):
    """The recording cannot be decoded (corrupt, empty, unknown format): retrying will not help."""

    error_id = "speech-audio-invalid"


class WorkerCrashed(SpeechError):
    """A transcription worker process died; the job is worth retrying on a fresh worker."""

    error_id = "speech-worker-crashed"


class RulesError(SpeechError):
    """The suggestion rules file is missing or malformed."""

    error_id = "speech-rules-invalid"
