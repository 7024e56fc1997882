"""Running benchmarks, summing up their figures, and what the figures were measured on."""

import os
import platform
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
from django.db import connection

from bench import BenchContext, Benchmark, Measurement


@dataclass
class FigureResult:
    benchmark: str
    figure: str
    unit: str
    values: list[float] = field(default_factory=list)
    notes: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def minimum(self) -> float:
        return min(self.values)

    @property
    def maximum(self) -> float:
        return max(self.values)


def benchmarks_run(
    benchmarks: Sequence[Benchmark],
    *,
    context: BenchContext,
    repeat: int,
    on_measurement: Callable[[Benchmark, int, list[Measurement]], None] | None = None,
) -> list[FigureResult]:
    """Run each benchmark ``repeat`` times; one result per figure, in the order first measured."""
    results: dict[tuple[str, str], FigureResult] = {}
    for bench in benchmarks:
        for run in range(repeat):
            context.run = run
            measurements = bench.function(context)
            for measurement in measurements:
                key = (bench.name, measurement.figure)
                result = results.setdefault(key, FigureResult(bench.name, measurement.figure, measurement.unit))
                result.values.append(measurement.value)
                result.notes = measurement.notes or result.notes
            if on_measurement is not None:
                on_measurement(bench, run, measurements)
    return list(results.values())


def number_format(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table_format(results: Sequence[FigureResult]) -> str:
    header = ("name", "figure", "unit", "median", "spread (min-max)", "runs", "notes")
    rows = [
        (
            result.benchmark,
            result.figure,
            result.unit,
            number_format(result.median),
            f"{number_format(result.minimum)}-{number_format(result.maximum)}",
            str(len(result.values)),
            result.notes,
        )
        for result in results
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header) - 1)]
    right_aligned = {3, 4, 5}
    lines = []
    for row in [header, *rows]:
        cells = [
            cell.rjust(width) if column in right_aligned else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def database_name(settings_dict: dict[str, Any]) -> str:
    return Path(str(settings_dict["NAME"])).name if connection.vendor == "sqlite" else str(settings_dict["NAME"])


def database_create_if_missing(settings_dict: dict[str, Any]) -> bool:
    """Create the PostgreSQL database from the ``postgres`` maintenance database; True when it was created."""
    if settings_dict["ENGINE"] != "django.db.backends.postgresql":
        return False
    import psycopg
    from psycopg import sql

    parameters = {
        "dbname": "postgres",
        "host": settings_dict.get("HOST") or None,
        "port": settings_dict.get("PORT") or None,
        "user": settings_dict.get("USER") or None,
        "password": settings_dict.get("PASSWORD") or None,
    }
    name = settings_dict["NAME"]
    with psycopg.connect(**{key: value for key, value in parameters.items() if value}, autocommit=True) as server:
        if server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def machine_describe() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
    else:
        database = f"{connection.display_name} {connection.Database.sqlite_version}"
    load = ", load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else ""
    return (
        f"{os.cpu_count()} cores ({platform.machine()}, {platform.system()} {platform.release()}){load}; "
        f"Python {platform.python_version()}, Django {django.get_version()}, {database} "
        f"(database {database_name(connection.settings_dict)}); {sys.executable}"
    )
