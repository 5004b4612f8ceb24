"""Orchestration of one call from start to confirmed card: persistence, live ASR, proposals, the hub."""
