"""Celery application, per the Django recipe: configuration from settings, tasks autodiscovered."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("nexttouch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
