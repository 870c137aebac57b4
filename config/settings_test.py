"""Test settings: the real settings with a fake provider key and fast hashing.

DATABASE_URL and REDIS_URL still come from the environment, so the same suite runs on the
zero-config default (SQLite, eager tasks) and against PostgreSQL and Redis in CI.
"""

import os

# A fake key: any model call the tests forgot to fake fails loudly instead of reaching out.
os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-test-fake-key-never-valid")
# ...but features' tests run on the offline provider; llm/tests build the real providers against
# fake transports explicitly (llm.use_provider), so nothing reaches the network by default.
os.environ.setdefault("LLM_PROVIDER", "offline")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests call tasks directly; enqueueing from views runs in-process so results are visible.
CELERY_TASK_ALWAYS_EAGER = True
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SECURE_SSL_REDIRECT = False
# pytest-django turns DEBUG off; the live server still serves static files from the app folders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Quiet hours off by default, so no test depends on the hour it runs; outbound's tests turn them on.
OUTBOUND_QUIET_HOURS_START = OUTBOUND_QUIET_HOURS_END = 0
# The co-pilot's optional semantic search stays off unless a test turns it on (assistant/tests/
# test_semantic.py), so the suite gives the same results whether or not the package is installed.
ASSISTANT_SEMANTIC = "off"
