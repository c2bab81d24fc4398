"""Residents and staff accounts, log-in, sessions, roles and resident verification."""
