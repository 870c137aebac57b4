"""Demo customers for the energy retention team: the shipped sample (notifications/sample_data)
imported through the import core, then the focus segment analysed with the offline provider, so
the Notifications console shows a queue after `make run` (with a model configured, the analysis is
left to the page's button: a demo never spends model credit).

Idempotent: an unchanged sample already imported into the team is not imported again (no new run)
and not analysed again. Measured: 1.7 s for the import and the offline analysis of the 109 Value
Seekers on SQLite (load average 6); 0.1 s on a rerun.
"""

import hashlib
from pathlib import Path

from crm.imports import run_import
from crm.models import ImportRun, Team
from llm.registry import get_provider
from notifications import importing, runs
from notifications.models import AnalysisRun, CustomerRecord, Notification, NotificationSettings

SAMPLE = Path(__file__).resolve().parent / "sample_data"
TEAM = "energy-retention"


def load() -> str:
    team = Team.objects.filter(slug=TEAM).first()
    if team is None:
        return "Notifications: no energy-retention team; nothing loaded."
    files = [(p.name, p.read_bytes()) for p in sorted(SAMPLE.glob("*.csv"))]
    marker = "Demo sample " + hashlib.sha256(b"".join(data for _, data in files)).hexdigest()[:16]
    latest = (
        ImportRun.objects.filter(team=team, kind=importing.KIND, dry_run=False)
        .exclude(status__in=(ImportRun.Status.REFUSED, ImportRun.Status.REJECTED, ImportRun.Status.FAILED))
        .first()
    )
    imported = latest is not None and latest.status == ImportRun.Status.IMPORTED and marker in latest.notes
    if imported and CustomerRecord.objects.filter(team=team).exists():
        text = "sample already imported"
    else:
        importer = importing.CustomerFilesImporter()
        importer.note(marker)
        run = run_import(importer, files, team=team)
        text = f"sample imported (run {run.pk}: {run.get_status_display().lower()}, {run.created} created)"
    customers = CustomerRecord.objects.filter(team=team).count()
    segment = NotificationSettings.for_team(team).focus_segment
    if get_provider().name != "offline":  # a demo never spends model credit: the button is there
        return f"Notifications: {customers} customers, {text}; analyse them from the Notifications page."
    if imported and Notification.objects.filter(team=team).exists():
        return f"Notifications: {customers} customers, {text}; {segment} already analysed."
    analysis = AnalysisRun.objects.create(team=team, segment=segment)
    analysis = runs.run_analysis(analysis.pk)
    return f"Notifications: {customers} customers, {text}; {segment} analysed offline ({analysis.done} customers)."
