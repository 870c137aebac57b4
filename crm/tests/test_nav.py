"""Console URLs by product noun: old URLs redirect, the nav highlights its section by one rule, and
every link in the nav and on the settings index opens for each persona who is shown it."""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from crm.navigation import section

# Old console URL -> where it lives now (issue 9). Each must answer 301 and keep the query string.
MOVED = [
    ("/crm/accounts/", "/accounts/"),
    ("/crm/accounts/{account}/", "/accounts/{account}/"),
    ("/crm/accounts/{account}/timeline/", "/accounts/{account}/timeline/"),
    ("/crm/deals/", "/deals/"),
    ("/crm/deals/{deal}/", "/deals/{deal}/"),
    ("/deals/stream/", "/deals/nudges/stream/"),
    ("/deals/import/", "/deals/nudges/import/"),
    ("/deals/settings/", "/settings/nudges/"),
    ("/inbox/weights/", "/settings/scoring/"),
    ("/imports/", "/settings/imports/"),
]


@pytest.mark.parametrize("old, new", MOVED)
def test_old_console_url_redirects_permanently_with_its_query_string(agent_client, account, deal, old, new):
    ids = {"account": account.pk, "deal": deal.pk}
    response = agent_client.get(old.format(**ids) + "?page=2&q=Tech")
    assert response.status_code == 301
    assert response["Location"] == new.format(**ids) + "?page=2&q=Tech"


@pytest.mark.parametrize(
    "name, path",
    [
        ("crm:account_list", "/accounts/"),
        ("crm:deal_list", "/deals/"),
        ("nudges:index", "/deals/nudges/"),
        ("nudges:stream", "/deals/nudges/stream/"),
        ("nudges:stream_root", "/nudges"),
        ("tickets:inbox", "/inbox/"),
        ("settings", "/settings/"),
        ("llm:usage", "/settings/ai/"),
        ("tickets:weights", "/settings/scoring/"),
        ("nudges:settings", "/settings/nudges/"),
    ],
)
def test_console_url_names_keep_their_names_at_product_noun_paths(name, path):
    assert reverse(name) == path


@pytest.mark.parametrize(
    "path, expected",
    [("/", ""), ("/deals/", "deals"), ("/deals/nudges/3/act/", "deals"), ("/settings/ai/", "settings")],
)
def test_section_is_the_first_path_segment(path, expected):
    assert section(path) == expected


class _Links(HTMLParser):
    """Collects hrefs inside one element (by tag name) and the label of the aria-current link."""

    def __init__(self, container):
        super().__init__()
        self.container, self.depth, self.hrefs, self.current, self._in_current = container, 0, [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == self.container:
            self.depth += 1
        if self.depth and tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
            self._in_current = attrs.get("aria-current") == "page"

    def handle_endtag(self, tag):
        if tag == self.container:
            self.depth -= 1
        if tag == "a":
            self._in_current = False

    def handle_data(self, data):
        if self._in_current and data.strip():
            self.current.append(data.strip())


def links(html, container):
    parser = _Links(container)
    parser.feed(html)
    return parser


@pytest.mark.parametrize(
    "url, current",
    [
        ("/deals/", "Deals"),
        ("/deals/nudges/", "Deals"),
        ("/deals/{deal}/", "Deals"),
        ("/accounts/", "Accounts"),
        ("/accounts/{account}/", "Accounts"),
        ("/inbox/", "Inbox"),
        ("/settings/", "Settings"),
        ("/settings/scoring/", "Settings"),
        ("/settings/nudges/", "Settings"),
        ("/", None),
    ],
)
def test_nav_highlights_the_section_of_the_page(client, manager, account, deal, url, current):
    client.force_login(manager)
    html = client.get(url.format(account=account.pk, deal=deal.pk)).content.decode()
    assert links(html, "header").current == ([current] if current else [])


def test_settings_index_links_ai_usage_only_for_those_who_may_open_it(client, agent, manager):
    client.force_login(agent)
    html = client.get("/settings/").content.decode()
    assert reverse("llm:usage") not in links(html, "main").hrefs
    assert client.get(reverse("llm:usage")).status_code == 404
    client.force_login(manager)
    html = client.get("/settings/").content.decode()
    assert reverse("llm:usage") in links(html, "main").hrefs


PERSONAS = ["agent", "teammate", "manager", "admin_user", "outsider"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_nav_and_settings_link_opens_for_each_persona(client, request, persona, account, deal):
    client.force_login(request.getfixturevalue(persona))
    nav = links(client.get("/").content.decode(), "header").hrefs
    settings_links = links(client.get(reverse("settings")).content.decode(), "main").hrefs
    assert reverse("tickets:inbox") in nav and reverse("settings") in nav
    assert reverse("tickets:weights") in settings_links
    walked = {}
    for href in dict.fromkeys(nav + settings_links):
        assert re.match(r"^/[^/]", href) or href == "/", f"{href} is not a site path"
        walked[href] = client.get(href).status_code
    assert walked and all(status == 200 for status in walked.values()), walked


def test_favicon_is_linked_from_console_pages_and_served(agent_client, client):
    html = agent_client.get("/").content.decode()
    assert re.search(r'<link rel="icon" href="/static/favicon\.svg"', html)
    assert finders.find("favicon.svg")
    client.logout()
    response = agent_client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")


def test_a_user_in_no_team_is_shown_only_links_that_open(client, account, deal):
    from conftest import _user
    from crm.models import AGENT_GROUP

    client.force_login(_user("loner", None, AGENT_GROUP))
    nav = links(client.get("/").content.decode(), "header").hrefs
    settings_links = links(client.get(reverse("settings")).content.decode(), "main").hrefs
    assert reverse("notifications:index") not in nav  # was shown, then answered 404 (issue 10)
    walked = {href: client.get(href).status_code for href in dict.fromkeys(nav + settings_links)}
    assert walked and all(status == 200 for status in walked.values()), walked
