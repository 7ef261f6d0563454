"""The server-rendered wizard: formtools view, session-backed storage, auth pages."""
