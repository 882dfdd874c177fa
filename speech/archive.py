"""The archive copy of a recording (mp3 or Ogg Vorbis, ``speech.audio.write_archive``: pydub
and ffmpeg), written off the decoding workers: one copy at a time in a thread of the service's
process, while ffmpeg does the encoding in a process of its own. The decoding workers never wait
for it, so with a core to spare the copies cost transcription nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from speech.audio import ARCHIVE_FORMATS, write_archive


class ArchiveWriter:
    """The ``Archiver`` port: ``AudioError`` when the copy cannot be written."""

    def __init__(self, fmt: str) -> None:
        if fmt not in ARCHIVE_FORMATS:
            raise ValueError(f"archive format must be one of {ARCHIVE_FORMATS}, got {fmt!r}")
        self._format = fmt
        self._one_at_a_time = asyncio.Lock()

    async def archive(self, audio: Path) -> Path:
        async with self._one_at_a_time:
            return await asyncio.to_thread(write_archive, audio, self._format)
