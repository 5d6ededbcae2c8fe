"""Test-run environment: the only knobs tests change are for speed and isolation, set before settings load."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("AUDIT_HMAC_KEYS", "test:test-only-audit-hmac-key-0123456789abcdef")
os.environ.setdefault("AUDIT_SIGNING_KEYS", "test:test-only-audit-signing-key-0123456789abcdef")
os.environ.setdefault("ATTACHMENT_KEYS", "test:test-only-attachment-master-key-0123456789abcdef")
# Attachments go to a directory of the run, never to the checkout's var/.
os.environ.setdefault("ATTACHMENT_DIR", tempfile.mkdtemp(prefix="tsunagu-test-attachments-"))
os.environ.setdefault("SECURE_COOKIES", "false")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # the test client and live server speak plain HTTP
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
# Production's default is the hashed manifest storage, which needs collectstatic first; the tests serve the apps'
# files unhashed, as `make run` does (tests/tsunagu/test_static.py runs collectstatic for the manifest itself).
os.environ.setdefault("STATICFILES_BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage")
