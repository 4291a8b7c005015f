"""Keeping an installation safe: backups and restores, and the media folder checked against its rows."""
