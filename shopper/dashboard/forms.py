"""The dashboard's filters, read from the query string."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from shopper.dashboard.queries import DashboardFilters, default_filters
from shopper.filters import DayValue, FilterForm, IdValue


class DashboardFilterForm(FilterForm):
    """Dates, site and checklist. A refused value falls back to the default (the last twelve months, everything)."""

    date_from = DayValue("From", name="from", fallback="")
    date_to = DayValue("To", name="to", fallback="")
    site = IdValue("Site", unknown="Unknown site in the filter", fallback="showing every site")
    checklist = IdValue("Checklist", unknown="Unknown checklist in the filter", fallback="showing every checklist")

    def __init__(self, args, *, sites: Collection[int], checklists: Collection[int], today: date):
        super().__init__(args)
        self.default = default_filters(today)
        self.site.allowed, self.checklist.allowed = sites, checklists
        for field, fallback in ((self.date_from, self.default.date_from), (self.date_to, self.default.date_to)):
            field.example = today.isoformat()
            field.fallback = f"showing {fallback:%d %b %Y}"

    def read(self) -> tuple[DashboardFilters, list[str]]:
        """The filters to apply, and a message for each value that fell back to its default."""
        problems = self.problems()
        date_from = self.date_from.data or self.default.date_from
        date_to = self.date_to.data or self.default.date_to
        if date_from > date_to:
            problems.append("The range ends before it starts: showing the last twelve months.")
            date_from, date_to = self.default.date_from, self.default.date_to
        filters = DashboardFilters(
            date_from=date_from, date_to=date_to, site_id=self.site.data, checklist_id=self.checklist.data
        )
        return filters, problems
