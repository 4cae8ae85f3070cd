"""Loop-nest mapper: mapspace encoding (mapspace) and search (search)."""

from mapper.mapspace import MapSpace, NoValidMapping, build_mapspace
from mapper.search import SearchResult, search_mapping

__all__ = ["MapSpace", "NoValidMapping", "build_mapspace", "SearchResult", "search_mapping"]
