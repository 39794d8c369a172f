"""Notifications: invitations by e-mail through a durable outbox (SQLite) over SMTP."""
