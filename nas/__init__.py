"""NAS front end: search spaces, accuracy oracles, fast hardware cost tables and search strategies.

* :mod:`nas.nb201` — the NAS-Bench-201 cell space (arch strings, official indices, one-hot vectors,
  ``build_network`` → :class:`accel.workload.Network`) and the shipped accuracy table
  (``nb201_accuracy``).
* :mod:`nas.hwcost` — ``nb201_hwcost``: latency / energy / EDP / MACs of all (or some) NB201 archs on
  one accelerator, mapping every unique layer shape once.
* :mod:`nas.search` — random search and regularized evolution over any space object, with
  accuracy/cost objectives and hard constraints; ``run_nb201_search`` ties everything together.

* :mod:`nas.registry` — ``SPACE:ENCODING`` specs and the registered spaces (``nb201``, ``darts`` /
  :mod:`nas.darts`, ``mbconv`` / :mod:`nas.mbconv`, ``fbnet`` / :mod:`nas.fbnet`), each with search
  operators, encodings, accelsim networks and torch models (:mod:`accel.nn`, :mod:`nas.nb201_torch`).
* :mod:`nas.proxies` (zero-cost proxies), :mod:`nas.predictor` (MLP accuracy predictor),
  :mod:`nas.latency_table` (layer / block latency tables, BBSSP correction, per-arch hardware metrics),
  :mod:`nas.profiling` (BBSSP profiling, CHaNAS CDF division, exhaustive search, ``run_search``).

``nas.hwcost`` (which pulls in the numba cost model) is imported lazily.
"""

from nas.nb201 import NB201Space, arch_str, arch_to_index, build_network, index_to_arch, nb201_accuracy, parse_arch
from nas.search import Objective, random_search, regularized_evolution, run_nb201_search

__all__ = [
    "NB201Space", "Objective", "arch_str", "arch_to_index", "build_network", "index_to_arch", "nb201_accuracy",
    "nb201_hwcost", "parse_arch", "random_search", "regularized_evolution", "run_nb201_search",
]


def __getattr__(name: str):
    if name == "nb201_hwcost":
        from nas.hwcost import nb201_hwcost

        return nb201_hwcost
    raise AttributeError(f"module 'nas' has no attribute {name!r}")
