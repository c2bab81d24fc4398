"""Short garbage-collector pauses for a long-running app process.

CPython's cyclic collector walks every tracked object of the oldest generation on a full collection. An
app process holds about 160,000 such objects that live as long as it does (modules, SQLAlchemy's mappers,
compiled templates, translation catalogues), so each full collection took 75-85 ms on a city-scale
benchmark, stalling every request in flight on that process: the tail of each page's p99. ``settle``
builds what the first requests would otherwise build lazily, then moves everything alive into the
collector's permanent generation (``gc.freeze``), which full collections skip: they then walk only what
requests create (about 25 ms each under a city-scale comment surge, with 64 requests in flight). Requests leave
no reference cycles of their own (``web.routing``, ``web.templating.render_acyclic``), so what they create is
freed by reference counting as they end, and the collector's passes find less.

Frozen objects are still freed by reference counting; only a cycle among them would never be collected,
which is why the heap is collected first and nothing that comes and goes is frozen later.
"""

from __future__ import annotations

import gc
import logging

from jinja2 import Environment
from sqlalchemy.orm import configure_mappers

log = logging.getLogger(__name__)


def settle(jinja: Environment) -> int:
    """Compile every template, configure the mappers, collect, and freeze; returns the objects frozen."""
    for name in jinja.list_templates(extensions=("html", "txt", "xml")):
        jinja.get_template(name)
    configure_mappers()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("froze %d long-lived objects out of the collector's full passes", frozen)
    return frozen
