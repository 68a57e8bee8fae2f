"""Planners over the shared proof tree, one module each, on the expand loop of ``search.base``."""

from search.base import Planner, SearchResult, SearchSettings
from search.bestfs import BestFS
from search.bfs import BFS

PLANNERS: dict[str, type[Planner]] = {"bestfs": BestFS, "bfs": BFS}


def make_planner(name: str, **settings: object) -> Planner:
    try:
        cls = PLANNERS[name]
    except KeyError:
        raise ValueError(f"unknown planner {name!r}; choose from {', '.join(PLANNERS)}") from None
    return cls(**settings)


__all__ = ["BFS", "PLANNERS", "BestFS", "Planner", "SearchResult", "SearchSettings", "make_planner"]
