import pytest

KEY_1 = ("k1", "first-test-master-key-0123456789abcdef")


@pytest.fixture(autouse=True)
def attachment_settings(settings, tmp_path):
    """Each test stores into its own directory, under a known master key, with no scanner."""
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "attachments"), "base_url": None},
        },
    }
    settings.ATTACHMENT_KEYS = [KEY_1]
    settings.ATTACHMENT_SCANNER = ""
    return settings
