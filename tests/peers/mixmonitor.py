"""A WAV file written the way Asterisk's format_wav writes it (MixMonitor, and ARI recordings in wav format).

Real Asterisk (main/formats/format_wav.c): ``write_header`` puts a 44-byte header whose RIFF size and data size
are both 0; frames are appended as they come; only ``wav_close`` (``update_header``) fills in the sizes. So a
file whose writer is still running, or whose Asterisk was killed -9, has both sizes 0, and Python's ``wave``
refuses it ("not a WAVE file").
"""

from __future__ import annotations

import struct
from pathlib import Path


def wav_header(*, data_size: int = 0, riff_size: int = 0, rate: int = 8000) -> bytes:
    """format_wav's header: PCM, mono, 16-bit; sizes as given (0 and 0 while the file is open)."""
    return (
        b"RIFF"
        + struct.pack("<I", riff_size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_size)
    )


class AsteriskWav:
    """An open recording: ``write`` appends frames, ``close`` updates the header, ``kill`` leaves it as is."""

    def __init__(self, path: Path, *, rate: int = 8000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.rate = rate
        self._fh = path.open("wb")
        self._fh.write(wav_header(rate=rate))
        self._fh.flush()
        self.closed = False
        self.bytes = 0

    def write(self, pcm: bytes) -> None:
        # Real Asterisk: frames go through stdio and reach the disk as the buffer fills; we flush each write.
        self._fh.write(pcm)
        self._fh.flush()
        self.bytes += len(pcm)

    def close(self) -> None:
        """wav_close -> update_header: the sizes are filled in from the file's length (padded to even)."""
        if self.closed:
            return
        self.closed = True
        end = self._fh.seek(0, 2)
        data = end - 44
        self._fh.seek(4)
        self._fh.write(struct.pack("<I", 36 + ((data + 1) & ~1)))
        self._fh.seek(40)
        self._fh.write(struct.pack("<I", data))
        self._fh.close()

    def kill(self) -> None:
        """Asterisk killed -9: whatever reached the disk stays, the header keeps its zero sizes."""
        if not self.closed:
            self.closed = True
            self._fh.close()


def asterisk_wav_bytes(pcm: bytes, *, killed: bool = False, rate: int = 8000) -> bytes:
    """The bytes of a finished recording (``killed``: left by an Asterisk killed -9, sizes 0)."""
    if killed:
        return wav_header(rate=rate) + pcm
    return wav_header(data_size=len(pcm), riff_size=36 + ((len(pcm) + 1) & ~1), rate=rate) + pcm
