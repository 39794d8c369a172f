"""Registered organisers: company accounts, log-in sessions, API keys, phonebooks."""
