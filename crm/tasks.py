from celery import shared_task

from crm import services


@shared_task(ignore_result=True)
def refresh_deal_last_activity_task(deal_id: int) -> None:
    services.refresh_deal_last_activity(deal_id)
