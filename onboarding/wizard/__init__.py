"""The server-rendered wizard (issue 2): formtools view, session-backed storage, auth pages."""
