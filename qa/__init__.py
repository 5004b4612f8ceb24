"""Automatic QA checks of a call: rules in data (kk and ru), one check per kind, a scorecard per call.

Pure functions over typed turns and facts; models/repo/qa_scoring.py reads the stored call and keeps the scorecard.
"""
