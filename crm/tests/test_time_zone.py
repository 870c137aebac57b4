import pytest
from django.core.exceptions import ValidationError

from crm.models import validate_time_zone


@pytest.mark.parametrize("name", ["", "Europe/Paris", "America/New_York", "UTC"])
def test_known_or_blank_time_zone_is_accepted(name):
    validate_time_zone(name)


@pytest.mark.parametrize("name", ["Mars/Olympus", "Europe/Paris\x00", "../etc/passwd", "+02:00"])
def test_unknown_time_zone_is_refused_with_its_name(name):
    with pytest.raises(ValidationError) as err:
        validate_time_zone(name)
    assert "Unknown time zone" in str(err.value)
