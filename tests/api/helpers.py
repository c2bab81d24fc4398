"""Calling the JSON API like a browser script does: session cookie plus the ``x-csrf-token`` header."""

from __future__ import annotations

from typing import Any

import httpx

from consultation.accounts.models import User
from tests.conftest import WebClient
from tests.factories import PASSWORD, identifier

PERSONAL_KEYS = {"phone", "email", "user_id", "author_id", "actor_id", "password_hash", "display_name"}


async def log_in(client: WebClient, user: User) -> WebClient:
    await client.login(identifier(user), PASSWORD)
    return client


async def send(client: WebClient, method: str, url: str, body: Any = None, **headers: str) -> httpx.Response:
    """An unsafe API request with the CSRF header taken from the ``ycsrf`` cookie."""
    token = await client.csrf()
    return await client.request(method, url, json=body, headers={"x-csrf-token": token, **headers})


def keys_of(data: Any) -> set[str]:
    """Every object key anywhere in a JSON document."""
    if isinstance(data, dict):
        return set(data) | {k for value in data.values() for k in keys_of(value)}
    if isinstance(data, list):
        return {k for value in data for k in keys_of(value)}
    return set()


def assert_no_personal_data(response: httpx.Response, *people: User) -> None:
    assert keys_of(response.json()) & PERSONAL_KEYS == set(), keys_of(response.json()) & PERSONAL_KEYS
    for person in people:
        for secret in (person.phone, person.email):
            if secret:
                assert secret not in response.text
        if len(person.display_name) > 1 and not person.show_full_name:
            assert person.display_name not in response.text


def assert_matches(schema_name: str, data: Any) -> None:
    """``data`` fits the named schema of the served OpenAPI document (so documentation cannot drift)."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    from web.api.openapi import document

    resource = Resource.from_contents(document(), default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:api", resource)
    validator = Draft202012Validator({"$ref": f"urn:api#/components/schemas/{schema_name}"}, registry=registry)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == [], errors
