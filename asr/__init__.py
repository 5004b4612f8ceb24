"""Speech recognition: 8 kHz 16-bit mono PCM in, partial and final transcripts out; no HTTP, no Asterisk."""
