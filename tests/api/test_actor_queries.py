"""An API request reads its key with the user, the staff record and the agency in one statement: building the
request's actor costs no query (``agencies.actors.Actor.for_user``)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext


def test_an_api_request_builds_its_actor_from_the_key_it_read(cast, api):
    """The key is read with its user, staff record and agency in one statement; the actor costs none."""
    client = api("bob")
    client.get("/api/v1/clients/")  # warm-up: first-request work
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/clients/")
    assert response.status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum('FROM "agencies_apikey"' in s for s in sql) == 1
    assert not any('FROM "agencies_staff"' in s for s in sql)
    assert [c["id"] for c in response.json()["results"]] == [str(cast.client.id)]
