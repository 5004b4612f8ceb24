"""SQLAlchemy 2 records of calls, recordings, transcripts, cards, users and audit; imports nothing of ours."""
