"""An import run started by no one (`load_demo`, a command run without --user) has no actor: the API
says null, and the schema must allow it (schemathesis ST108 found the mismatch)."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from crm.models import ImportRun
from crm.serializers import ImportRunSerializer

pytestmark = pytest.mark.django_db


def test_a_run_without_an_actor_serialises_as_null_and_the_schema_allows_it(team):
    run = ImportRun.objects.create(team=team, kind="notifications.customers", label="Customer files")
    assert ImportRunSerializer(run).data["actor"] is None
    schema = SchemaGenerator().get_schema(request=None, public=True)
    assert schema["components"]["schemas"]["CrmImportRun"]["properties"]["actor"].get("nullable") is True
