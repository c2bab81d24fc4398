"""Neighbourhood deliberation (小院议事厅): topics, co-signing, the lifecycle and triage."""
