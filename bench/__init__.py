"""Benchmarks of the platform: ``make bench`` runs ``python -m bench``.

A benchmark is a function registered with ``@benchmark``. It receives a
``BenchContext`` and returns the figures of one run (``Measurement``), timing
only what it measures: setting up and cleaning up are its own business. The
harness runs it ``--repeat`` times and prints, per figure, the median and the
spread (min-max).

Each app's benchmarks live in a module of this package, listed in
``BENCHMARK_MODULES``; they run in that order, then in the order they are
registered in their module. ``bench.crm_import`` comes first: it empties the
profile tables, which the benchmarks of ``bench.profiles`` then fill with their
demo data set (and leave it as generated); ``bench.segments`` times segments on
that same data set, and ``bench.campaigns`` a campaign run on it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

BENCHMARK_MODULES = (
    "bench.crm_import",
    "bench.profiles",
    "bench.segments",
    "bench.scores",
    "bench.campaigns",
    "bench.reporting",
    "bench.api",
)


@dataclass(frozen=True)
class Measurement:
    figure: str
    value: float
    unit: str
    notes: str = ""


@dataclass
class BenchContext:
    scale: int = 1_000_000  # profiles in the demo data set the benchmarks run on (about ten events each)
    operations: int = 1_000  # operations timed per run by the benchmarks of single operations
    seed: int = 42
    import_rows: int | None = None  # rows of the generated CRM file (crm_import); None: as many as scale
    run: int = 0  # this run's number, from 0 to --repeat - 1


BenchmarkFunction = Callable[[BenchContext], list[Measurement]]


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    function: BenchmarkFunction


REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, *, description: str) -> Callable[[BenchmarkFunction], BenchmarkFunction]:
    """Register a benchmark under ``name`` (what ``--only`` takes)."""

    def register(function: BenchmarkFunction) -> BenchmarkFunction:
        if name in REGISTRY and REGISTRY[name].function is not function:
            raise ValueError(f"Two benchmarks are named {name!r}.")
        REGISTRY[name] = Benchmark(name=name, description=description, function=function)
        return function

    return register


def benchmarks_load() -> dict[str, Benchmark]:
    """Every benchmark, in the order of ``BENCHMARK_MODULES`` whichever module was imported first.

    Importing ``bench.segments`` imports ``bench.profiles``, and a test may import
    either before this runs: registration order alone would then run
    ``crm_import``, which empties the profile tables, after the others.
    """
    for module in BENCHMARK_MODULES:
        import_module(module)
    rank = {module: position for position, module in enumerate(BENCHMARK_MODULES)}
    ordered = sorted(REGISTRY.values(), key=lambda bench: rank.get(bench.function.__module__, len(rank)))
    return {bench.name: bench for bench in ordered}
