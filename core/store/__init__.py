"""What Pictor keeps: the SQLite catalog (the truth), its schema and migrations, backups,
and the vector indexes (a graph, an inverted file) that are rebuilt from it."""
