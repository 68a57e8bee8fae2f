"""Planners over the shared proof tree, one module each, on the expand loop of ``aitp_gym.search.base``."""

from aitp_gym.search.base import Planner, SearchResult, SearchSettings, summarise
from aitp_gym.search.bestfs import BestFS
from aitp_gym.search.bfs import BFS
from aitp_gym.search.fringe import Fringe, FringeSettings
from aitp_gym.search.htps import HTPS, HTPSSettings
from aitp_gym.search.updown import UpDown, UpDownSettings

PLANNERS: dict[str, type[Planner]] = {"bestfs": BestFS, "bfs": BFS, "fringe": Fringe, "updown": UpDown, "htps": HTPS}


def make_planner(name: str, **settings: object) -> Planner:
    """A planner by name, with settings overriding its defaults (``max_expansions``, ``exploration``, ...)."""
    try:
        cls = PLANNERS[name]
    except KeyError:
        raise ValueError(f"unknown planner {name!r}; choose from {', '.join(PLANNERS)}") from None
    return cls(**settings)


__all__ = ["BFS", "HTPS", "PLANNERS", "BestFS", "Fringe", "FringeSettings", "HTPSSettings", "Planner",
           "SearchResult", "SearchSettings", "UpDown", "UpDownSettings", "make_planner",
           "summarise"]
