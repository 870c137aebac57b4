def test_console_pages_render_for_agent(agent_client, account, deal):
    for url in ["/", "/crm/accounts/", f"/crm/accounts/{account.pk}/", "/crm/deals/", f"/crm/deals/{deal.pk}/"]:
        response = agent_client.get(url)
        assert response.status_code == 200, url
