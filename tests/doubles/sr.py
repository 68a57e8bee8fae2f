"""SR-v0 goals for tests: not a double, a shortcut to a goal deep in a real SR-v0 search."""

from aitp_gym.envs.sr.backend import SRBackend, make_theorem


def sr_goal(target: str, *tactics: str):
    """The backend and the goal reached from ``target``'s root by ``tactics`` (each must apply)."""
    backend = SRBackend()
    goal = backend.start(make_theorem(target))
    for t in tactics:
        goal = backend.apply(goal, t).subgoals[0]
    return backend, goal
