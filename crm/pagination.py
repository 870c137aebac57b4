from crm.drf import ValidatedCursorPagination


class NewestFirstCursorPagination(ValidatedCursorPagination):
    """Keyset pagination: page 1,000 costs what page 1 costs, and no COUNT over the table."""

    ordering = "-id"
    page_size_query_param = "limit"
    max_page_size = 200
