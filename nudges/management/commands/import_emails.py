from nudges import importers
from nudges.management.commands._common import ImportCommand


class Command(ImportCommand):
    help = "Import the seed's emails.json ([{deal_id, thread: [{from,to,ts,body}]}]) into a team. Reruns update."
    importer = staticmethod(importers.import_emails)
