"""The API benchmark's site: the project plus its baseline view, mounted by these settings only."""
