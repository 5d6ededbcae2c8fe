"""Production's static files: collectstatic writes them under hashed names, pages link those, WhiteNoise serves them.

The suite itself serves the files unhashed (tests/pytest_env.py); this test switches to production's storage, runs
collectstatic into a directory of its own and reads a page as a browser would.
"""

import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

MANIFEST = "whitenoise.storage.CompressedManifestStaticFilesStorage"
HASHED = re.compile(r"^/static/(?P<path>.+)\.(?P<hash>[0-9a-f]{12})\.(?P<ext>css|js|svg|png|ico|woff2?)$")


@pytest.mark.django_db
def test_after_collectstatic_a_page_links_hashed_files_that_are_served_for_good(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": MANIFEST}}
    call_command("collectstatic", interactive=False, verbosity=0)

    page = Client().get(reverse("frontend:login"))
    assert page.status_code == 200
    linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.content.decode())
    assert linked, "the login page links no static file"
    for url in linked:
        assert HASHED.match(url), f"{url} is not a hashed name"

    url = linked[0]
    response = Client().get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert "immutable" in response["Cache-Control"]  # the name changes with the content: cached for good
    assert response["Content-Encoding"] == "gzip"  # the compressed copy collectstatic wrote
    served = b"".join(response.streaming_content)
    assert served == (settings.STATIC_ROOT / (url.removeprefix("/static/") + ".gz")).read_bytes()
