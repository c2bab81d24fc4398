"""The request pipeline: CSRF on unsafe methods, security headers, error pages, language."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from tests.conftest import WebClient, text_of


async def test_home_page_renders_in_chinese_by_default(client: WebClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert '<html lang="zh-CN"' in response.text
    assert "身边事，大家议" in text_of(response.text)
    assert "<title>首页 · 议事厅</title>" in response.text  # not "房屋" (a dwelling), the signed-ballot column's word
    await client.submit("/prefs/language", {"locale": "en", "next": "/"})
    assert "<title>Home · " in (await client.get("/")).text


async def test_security_headers_on_pages_and_errors(client: WebClient) -> None:
    for path in ("/", "/no-such-page"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


async def test_security_headers_keep_a_response_s_own_and_add_hsts_when_asked() -> None:
    from starlette.responses import PlainTextResponse

    from web.security import HEADERS, SecurityHeadersMiddleware

    async def page(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await PlainTextResponse("hi", headers={"content-security-policy": "default-src 'none'"})(scope, receive, send)

    for hsts in (False, True):
        transport = httpx.ASGITransport(app=SecurityHeadersMiddleware(page, hsts=hsts))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as plain:
            response = await plain.get("/")
        names = [name.lower() for name, _ in response.headers.multi_items()]
        assert response.headers.get_list("content-security-policy") == ["default-src 'none'"]  # the page's own
        assert all(names.count(name.lower()) == 1 for name in HEADERS)
        assert response.headers["x-frame-options"] == "DENY"
        assert ("strict-transport-security" in names) is hsts


async def test_unknown_page_is_a_translated_404(client: WebClient) -> None:
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert "您要访问的页面或内容不存在" in text_of(response.text)
    client.cookies.set("lang", "en")
    response = await client.get("/no-such-page")
    assert "does not exist" in text_of(response.text)


async def test_api_errors_are_json(client: WebClient) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


async def test_post_without_csrf_token_is_refused_with_a_page(client: WebClient) -> None:
    await client.get("/")
    response = await client.post("/login", data={"identifier": "13800000000", "password": "x"})
    assert response.status_code == 403
    assert "表单已过期" in text_of(response.text)


async def test_post_with_wrong_csrf_token_is_refused(client: WebClient) -> None:
    await client.get("/")
    response = await client.post("/login", data={"csrf_token": "forged-token-value-123456", "identifier": "x"})
    assert response.status_code == 403


async def test_cross_origin_post_is_refused_even_with_token(client: WebClient) -> None:
    token = await client.csrf()
    response = await client.post("/login", data={"csrf_token": token}, headers={"origin": "https://evil.example"})
    assert response.status_code == 403


async def test_every_unsafe_route_requires_csrf(app, client: WebClient) -> None:  # type: ignore[no-untyped-def]
    """A matrix over the whole route table: no unsafe endpoint answers without a CSRF token."""
    await client.get("/")
    unsafe = [
        (route.path, method)
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"GET", "HEAD", "OPTIONS"}
    ]
    assert len(unsafe) >= 3
    for path, method in unsafe:
        concrete = path.replace("{", "").replace("}", "").replace(":int", "")
        concrete = "/".join("1" if part.endswith("_id") or part == "id" else part for part in concrete.split("/"))
        response = await client.request(method, concrete, data={"x": "1"})
        assert response.status_code == 403, f"{method} {path} answered {response.status_code} without CSRF"


@pytest.mark.parametrize("locale, expected", [("en", "Neighbourhood matters"), ("zh_CN", "身边事")])
async def test_language_switch_is_remembered(client: WebClient, locale: str, expected: str) -> None:
    response = await client.submit("/prefs/language", {"locale": locale, "next": "/"})
    assert response.status_code == 303 and response.headers["location"] == "/"
    page = await client.get("/")
    assert expected in page.text


async def test_language_switch_ignores_offsite_next(client: WebClient) -> None:
    response = await client.submit("/prefs/language", {"locale": "en", "next": "//evil.example/x"})
    assert response.headers["location"] == "/"


async def test_elderly_mode_is_remembered(client: WebClient) -> None:
    await client.submit("/prefs/elderly", {"enabled": "1", "next": "/"})
    page = await client.get("/")
    assert '<html lang="zh-CN" class="elderly">' in page.text
    await client.submit("/prefs/elderly", {"enabled": "0", "next": "/"})
    page = await client.get("/")
    assert 'class="elderly"' not in page.text


async def test_login_required_redirects_html_and_401s_api(app, client: WebClient) -> None:  # type: ignore[no-untyped-def]
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse

    from web.auth import require_user
    from web.routing import RouteTable

    table = RouteTable()

    async def members_only(request: Request, ctx) -> PlainTextResponse:  # type: ignore[no-untyped-def]
        return PlainTextResponse(require_user(ctx).display_name)

    table.add("/members-only", members_only)
    table.add("/api/v1/members-only", members_only)
    app.router.routes[:0] = table.routes
    response = await client.get("/members-only?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fmembers-only%3Fx%3D1"
    response = await client.get("/api/v1/members-only")
    assert response.status_code == 401 and response.json()["error"]["status"] == 401


@pytest.mark.parametrize("path", ["/areas/99999999999999999999999", "/areas/3000000000",
                                  "/search?area=99999999999999999999&page=99999999999999999999",
                                  "/notifications?page=99999999999999999999"])
async def test_huge_ids_are_not_found_not_a_crash(client: WebClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code in {200, 303, 404}


async def test_nul_characters_and_huge_identifiers_do_not_crash(client: WebClient) -> None:
    for identifier in ("a\x00@b.cn", "x" * 5000 + "@example.org"):
        response = await client.submit("/login", {"identifier": identifier, "password": "whatever-123"})
        assert response.status_code == 422
    response = await client.submit("/register", {"identifier": "13912345678", "display_name": "王\x00明",
                                                 "home_area_id": "99999999999999999999", "password": "abc12345",
                                                 "password_confirm": "abc12345"})
    assert response.status_code == 422


async def test_oversized_body_is_refused_with_a_translated_413(client: WebClient) -> None:
    token = await client.csrf()
    response = await client.post("/login", data={"csrf_token": token, "identifier": "x" * (4 * 1024 * 1024)})
    assert response.status_code == 413
    assert "提交的内容过大" in text_of(response.text)


async def test_a_client_that_goes_away_mid_request_is_noted_not_reported_as_a_server_error(
        app: Starlette, caplog: pytest.LogCaptureFixture) -> None:
    """wrk stopping, a closed tab, a dropped phone connection: the body cannot be read; nothing is done and
    nothing is logged as an error."""
    sent: list[dict[str, object]] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/login", "raw_path": b"/login", "query_string": b"", "root_path": "",
             "server": ("test", 80), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"test"), (b"content-type", b"application/x-www-form-urlencoded"),
                         (b"cookie", b"ycsrf=abcdefghijklmnopqrstuvwxyz012345")]}

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    with caplog.at_level(logging.INFO, logger="web.errors"):
        await app(scope, receive, send)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("client disconnected during POST /login" in r.getMessage() for r in caplog.records)
    assert sent[0]["status"] == 400


def test_the_router_tries_each_route_for_every_path_it_matches(app) -> None:  # type: ignore[no-untyped-def]
    """web.routing.SegmentRouter: every route of the table is among the candidates for a path of its own,
    in the table's order, and a path is tried against its first segment's routes only."""
    from web.routing import SegmentRouter

    router = app.router
    assert isinstance(router, SegmentRouter)
    routes = [route for route in app.routes if isinstance(route, Route)]
    for route in routes:
        concrete = route.path.replace("{", "").replace("}", "").replace(":int", "").replace(":path", "")
        candidates = router.candidates(concrete)
        assert route in candidates, route.path
        assert candidates == [r for r in app.routes if r in candidates]  # the table's order
    ballots = router.candidates("/api/v1/polls/1/ballots")
    assert len(ballots) < len(app.routes) / 3
    assert all(getattr(r, "path", "").startswith("/api/") for r in ballots)
    assert router.candidates("/no-such-section/1") == []


async def test_the_router_answers_as_starlettes_does(client: WebClient) -> None:
    assert (await client.get("/areas/1")).status_code == 404  # matched; no such area
    assert (await client.get("/no-such-page")).status_code == 404
    wrong_method = await client.request("PATCH", "/login")
    assert wrong_method.status_code == 405
    slash = await client.get("/login/")
    assert slash.status_code in (307, 308) and slash.headers["location"].endswith("/login")
    assert (await client.get("/static/no-such-file.css")).status_code == 404
    assert (await client.get("/")).status_code == 200


def test_only_single_statement_writes_run_in_autocommit(app) -> None:  # type: ignore[no-untyped-def]
    """An ``autocommit`` route runs without a transaction on PostgreSQL: only a handler whose every write is
    one statement may be one (casting a ballot, ``consultation.voting.ballots``; a round comment through the
    API, ``consultation.rounds.services.post_comment``)."""
    flagged = sorted(route.name for route in app.routes
                     if getattr(getattr(route, "endpoint", None), "autocommit", False))
    assert flagged == ["api_poll_cast", "api_round_comment_post"]


def test_the_pipeline_picks_the_sessions_by_method_and_route() -> None:
    from types import SimpleNamespace

    from web.routing import sessionmaker_for

    state = SimpleNamespace(sessionmaker="read", write_sessionmaker="write", statement_sessionmaker="statement")
    assert sessionmaker_for(state, writes=False, autocommit=False) == "read"
    assert sessionmaker_for(state, writes=False, autocommit=True) == "read"
    assert sessionmaker_for(state, writes=True, autocommit=False) == "write"
    assert sessionmaker_for(state, writes=True, autocommit=True) == "statement"
