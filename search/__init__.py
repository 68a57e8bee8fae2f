"""Planners over the shared proof tree, one module each, on the expand loop of ``search.base``."""

from search.base import Planner, SearchResult, SearchSettings
from search.bestfs import BestFS
from search.bfs import BFS
from search.fringe import Fringe, FringeSettings
from search.htps import HTPS, HTPSSettings
from search.updown import UpDown, UpDownSettings

PLANNERS: dict[str, type[Planner]] = {"bestfs": BestFS, "bfs": BFS, "fringe": Fringe, "updown": UpDown, "htps": HTPS}


def make_planner(name: str, **settings: object) -> Planner:
    """A planner by name, with settings overriding its defaults (``max_expansions``, ``exploration``, ...)."""
    try:
        cls = PLANNERS[name]
    except KeyError:
        raise ValueError(f"unknown planner {name!r}; choose from {', '.join(PLANNERS)}") from None
    return cls(**settings)


__all__ = ["BFS", "HTPS", "PLANNERS", "BestFS", "Fringe", "FringeSettings", "HTPSSettings", "Planner",
           "SearchResult", "SearchSettings", "UpDown", "UpDownSettings", "make_planner"]
