"""Telephone recordings in, 16 kHz mono 16-bit PCM out (what Vosk is fed), plus a compact
archive copy for playback. pydub (with ffmpeg for GSM and the archive encoders) does the work;
every file handle is closed here.

Asterisk's ``RECORD FILE`` formats: ``wav`` (8 kHz s16 WAV), ``ulaw``/``alaw`` (raw G.711),
``gsm`` (raw GSM 06.10), ``sln`` (raw 8 kHz s16le). Raw G.711 is decoded with ``audioop``
directly: pydub would hand it to ffmpeg at an assumed 44.1 kHz (speech.md §4).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

with warnings.catch_warnings():
    # deprecated in 3.11/3.12 (audioop-lts provides it from 3.13)
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from speech.errors import AudioError

logger = logging.getLogger(__name__)

RECOGNITION_RATE = 16000
TELEPHONE_RATE = 8000
SAMPLE_WIDTH = 2
ARCHIVE_FORMATS = ("mp3", "ogg")


@dataclass(frozen=True)
class Pcm:
    """Mono 16-bit little-endian PCM at ``rate``."""

    data: bytes
    rate: int
    source_rate: int

    @property
    def seconds(self) -> float:
        return len(self.data) / (SAMPLE_WIDTH * self.rate)


@functools.cache
def _pydub() -> Any:
    """pydub, imported where audio is first converted: it looks for ffmpeg when imported and
    warns on every import without it, so commands that convert nothing (``--help`` included)
    never load it. Without ffmpeg one log line says so, once per process."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its own audioop import
        warnings.simplefilter("ignore", RuntimeWarning)  # "Couldn't find ffmpeg": logged below
        from pydub import AudioSegment
        from pydub.exceptions import CouldntDecodeError, CouldntEncodeError
    if shutil.which("ffmpeg") is None and shutil.which("avconv") is None:
        logger.warning(
            "speech: ffmpeg is not installed (Debian: apt-get install ffmpeg): GSM recordings "
            "cannot be decoded nor mp3/ogg archive copies written"
        )
    return SimpleNamespace(
        AudioSegment=AudioSegment,
        CouldntDecodeError=CouldntDecodeError,
        CouldntEncodeError=CouldntEncodeError,
    )


def _segment(path: Path) -> Any:
    pydub = _pydub()
    suffix = path.suffix.lower().lstrip(".")
    try:
        with path.open("rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise
    except OSError as err:
        raise AudioError(f"cannot read {path}: {err}") from err
    if not raw:
        raise AudioError(f"{path} is empty")
    try:
        if suffix in ("ulaw", "ul", "mulaw", "pcmu"):
            return pydub.AudioSegment(
                data=audioop.ulaw2lin(raw, SAMPLE_WIDTH),
                sample_width=SAMPLE_WIDTH,
                frame_rate=TELEPHONE_RATE,
                channels=1,
            )
        if suffix in ("alaw", "al", "pcma"):
            return pydub.AudioSegment(
                data=audioop.alaw2lin(raw, SAMPLE_WIDTH),
                sample_width=SAMPLE_WIDTH,
                frame_rate=TELEPHONE_RATE,
                channels=1,
            )
        if suffix in ("sln", "raw"):
            usable = len(raw) - len(raw) % SAMPLE_WIDTH
            return pydub.AudioSegment(
                data=raw[:usable], sample_width=SAMPLE_WIDTH, frame_rate=TELEPHONE_RATE, channels=1
            )
        if suffix == "sln16":
            usable = len(raw) - len(raw) % SAMPLE_WIDTH
            return pydub.AudioSegment(
                data=raw[:usable],
                sample_width=SAMPLE_WIDTH,
                frame_rate=RECOGNITION_RATE,
                channels=1,
            )
        if suffix in ("wav", "gsm", "mp3", "ogg"):
            with path.open("rb") as fh:
                return pydub.AudioSegment.from_file(fh, format=suffix)
    except (pydub.CouldntDecodeError, audioop.error, EOFError, ValueError, IndexError) as err:
        raise AudioError(f"{path} cannot be decoded as {suffix}: {err}") from err
    raise AudioError(f"{path}: unknown audio format {suffix!r}")


def load_for_recognition(path: Path) -> Pcm:
    """The recording as 16 kHz mono s16 PCM; 8 kHz telephone audio is resampled here, so the
    model does not need ``--allow-upsample``. ``AudioError`` when there is nothing to decode."""
    segment = _segment(path)
    source_rate = int(segment.frame_rate)
    if len(segment) == 0 or segment.frame_count() < 1:
        raise AudioError(f"{path} holds no audio")
    mono = segment.set_channels(1).set_sample_width(SAMPLE_WIDTH)
    if source_rate != RECOGNITION_RATE:
        mono = mono.set_frame_rate(RECOGNITION_RATE)
    return Pcm(bytes(mono.raw_data), RECOGNITION_RATE, source_rate)


def pcm_of_wav(path: Path) -> Pcm:
    """A WAV file's PCM at its own rate (mono s16), without resampling: for feeding Vosk the
    original rate when comparing paths."""
    segment = _segment(path).set_channels(1).set_sample_width(SAMPLE_WIDTH)
    return Pcm(bytes(segment.raw_data), int(segment.frame_rate), int(segment.frame_rate))


def write_archive(path: Path, fmt: str) -> Path:
    """A compact copy next to the recording (``<name>.mp3``: 8 kHz mono 32 kbit/s, or Ogg
    Vorbis), written under a temporary name and renamed; the original stays untouched."""
    if fmt not in ARCHIVE_FORMATS:
        raise ValueError(f"archive format must be one of {ARCHIVE_FORMATS}, got {fmt!r}")
    segment = _segment(path).set_channels(1).set_sample_width(SAMPLE_WIDTH)
    target = path.with_suffix(f".{fmt}")
    partial = target.with_name(f".{target.name}.part")
    options: dict[str, Any] = {"format": fmt, "parameters": ["-ar", "8000", "-ac", "1"]}
    if fmt == "mp3":
        options["bitrate"] = "32k"
    else:
        options["codec"] = "libvorbis"
    try:
        segment.export(str(partial), **options).close()
        os.replace(partial, target)
    except (_pydub().CouldntEncodeError, OSError) as err:
        partial.unlink(missing_ok=True)
        raise AudioError(f"cannot write the archive copy {target}: {err}") from err
    return target
