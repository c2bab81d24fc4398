"""Parts of the topic page that other features contribute (photos, comments, sessions, the resolution).

A feature's route module registers a provider with ``@topic_section("deliberation/_topic_x.html")``;
the provider returns the extra template context for one topic, and the topic page includes each
section's template in registration order, after the topic itself. The topic page stays one handler
and one template no matter how many features hang off a topic.

For anonymous visitors the rendered page, the providers' sections included, is kept a few seconds in
``web.page_cache`` and shared by every anonymous visit to the same address in the same language. So a
provider must depend only on the topic, the actor (anonymous there), the language and the
``comments_page`` query parameter (the only one a shared page may have).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consultation.deliberation.models import Topic
    from web.context import Ctx

Provider = Callable[["Ctx", "Topic"], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Section:
    template: str
    provider: Provider
    order: int
    slot: str  # "after_topic" (under the description) or "end" (after the timeline)


_SECTIONS: list[Section] = []


def topic_section(template: str, order: int = 50, slot: str = "end") -> Callable[[Provider], Provider]:
    """Register ``provider`` to add ``template`` (rendered with the provider's context) to the topic page.

    ``slot`` is "after_topic" (right under the description, e.g. photos, the resolution) or "end" (after
    the timeline, e.g. sessions, comments). Within a slot lower ``order`` comes first.
    """
    if slot not in ("after_topic", "end"):
        raise ValueError(slot)

    def register(provider: Provider) -> Provider:
        if not any(s.template == template for s in _SECTIONS):
            _SECTIONS.append(Section(template, provider, order, slot))
            _SECTIONS.sort(key=lambda s: s.order)
        return provider
    return register


async def sections_for(ctx: Ctx, topic: Topic) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The templates to include per slot and their merged context (keys must not clash between features)."""
    context: dict[str, Any] = {}
    slots: dict[str, list[str]] = {"after_topic": [], "end": []}
    for section in _SECTIONS:
        context.update(await section.provider(ctx, topic))
        slots[section.slot].append(section.template)
    return slots, context
