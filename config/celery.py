"""Celery application, per the Django recipe: configuration from settings, tasks autodiscovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("nexttouch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Services enqueue by task name through `celery.current_app`; in a thread that did not create the app
# (the live server's request threads, a thread pool), current_app falls back to Celery's default app
# unless ours is the default. Making it the default means every thread enqueues through our settings.
app.set_default()
