"""The real-Meilisearch fixtures of the search tests, for the comment search test."""

from tests.search.conftest import meili_app, meili_client  # noqa: F401
