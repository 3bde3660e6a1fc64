"""The API's FilterSets are the ones the web lists use (``incidents.selectors.filters``)."""

from incidents.selectors.filters import (
    ChangeFilter,
    ConfigurationItemFilter,
    IncidentFilter,
    MajorIncidentCandidateFilter,
    MajorIncidentFilter,
    ProblemFilter,
)

__all__ = [
    "ChangeFilter",
    "ConfigurationItemFilter",
    "IncidentFilter",
    "MajorIncidentCandidateFilter",
    "MajorIncidentFilter",
    "ProblemFilter",
]
