"""Search: Meilisearch documents and indexing, with a database fallback."""
