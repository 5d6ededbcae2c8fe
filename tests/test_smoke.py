def test_cast_builds(cast):
    assert cast.client.case_number.startswith("SJ-")
