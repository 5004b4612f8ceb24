"""Talks to Asterisk (ARI, AudioSocket, FastAGI); produces call events and audio, nothing else."""
