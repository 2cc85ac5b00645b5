"""Keeping the catalog in step with the folders: the scanner, the indexer (a generator of
progress), watch events, watched roots and the watcher."""
