"""Page-number pagination on every list: ?page=N&page_size=M (at most MAX_PAGE_SIZE).

Both are read with the project's one integer parser (ASCII digits only); anything else is a 400 naming the
parameter (DRF alone answered 404 for '?page=²' and read '?page_size=١٢' as 12). A page past the end is a 404."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from htc_app.params import id_param

MAX_PAGE_SIZE = 200


class ApiPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param, "")
        if raw in ("", *self.last_page_strings):
            return raw or 1
        number = id_param(raw)
        if number is None:
            raise ValidationError({"page": "page must be a whole number from 1 (or 'last')."})
        return number

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        number = id_param(raw)
        if number is None:
            raise ValidationError({"page_size": f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}."})
        return min(number, self.max_page_size)
