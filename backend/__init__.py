"""Qungong (群工): the backend package. Never imports ``workers``."""
