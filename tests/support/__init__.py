"""Shared test helpers, one module per topic (the convention): ``tests/support/<topic>.py`` holds what
more than one test file uses (people, factories, photos, services, fakes, history, lights, wishes,
routing, maps, knowledge, learning, notices, open311); tests live in their domain's folder and import
from here. A helper used by one test file stays in that file."""
