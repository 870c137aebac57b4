from nudges import importers
from nudges.management.commands._common import ImportCommand


class Command(ImportCommand):
    help = "Import the seed's crm_events.csv (deal_id,amount_eur,last_activity,stage) into a team. Reruns update."
    importer = staticmethod(importers.import_crm_events)
