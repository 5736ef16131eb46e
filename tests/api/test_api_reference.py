"""The API reference: /docs works offline, and /openapi.json describes what each endpoint
answers, not only its errors."""

from __future__ import annotations

import re

from starlette.testclient import TestClient


def test_docs_page_loads_only_assets_the_server_serves(client: TestClient) -> None:
    client.auth = None  # type: ignore[assignment]  # the reference needs no credentials
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= set(assets)
    for url in [*assets, "/openapi.json"]:
        assert url.startswith("/") and not url.startswith("//"), url
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.content, url
    assert "javascript" in client.get("/docs/assets/swagger-ui-bundle.js").headers[
        "content-type"]
    assert 'url: "/openapi.json"' in page.text
