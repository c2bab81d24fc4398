"""Benchmark harness and reliability drills (DESIGN §8, issue 6): ``python -m bench --help``.

It creates and drops its own PostgreSQL database, seeds it in bulk, starts a real Meilisearch, the
production server (gunicorn with uvicorn workers) and the outbox worker, drives load with ``wrk``
and writes ``bench/results/<timestamp>.json`` and ``.md``.
"""
