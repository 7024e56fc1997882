"""``python -m bench``: create and migrate the bench database, run the benchmarks, print their figures."""

import argparse
import datetime
import os
import sys


def arguments_parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks of the platform, on the database of DATABASE_URL (whose name must contain 'bench').",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="Run only this benchmark (repeatable, or comma-separated).",
    )
    parser.add_argument(
        "--scale", type=int, default=1_000_000, help="Profiles in the demo data, ten events each (default 1,000,000)."
    )
    parser.add_argument("--repeat", type=int, default=3, help="Runs per figure; the median is shown (default 3).")
    parser.add_argument(
        "--operations", type=int, default=1_000, help="Operations per run for single-operation benchmarks."
    )
    parser.add_argument("--seed", type=int, default=42, help="Seed of the demo data and the CRM file (default 42).")
    parser.add_argument(
        "--import-rows",
        type=int,
        default=1_000_000,
        help="Rows of the CRM file that crm_import generates and imports (default 1,000,000).",
    )
    parser.add_argument("--list", action="store_true", help="List the benchmarks and stop.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = arguments_parse(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdp.settings")
    import django

    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from bench import BenchContext, benchmarks_load
    from bench.runner import (
        benchmarks_run,
        database_create_if_missing,
        database_name,
        machine_describe,
        number_format,
        table_format,
    )

    registry = benchmarks_load()
    if options.list:
        for bench in registry.values():
            print(f"{bench.name:<20} {bench.description}")
        return 0
    names = [name.strip() for value in options.only for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in registry]
    if unknown:
        print(f"Unknown benchmark: {', '.join(unknown)}. Known: {', '.join(registry)}.", file=sys.stderr)
        return 2
    if options.scale < 1 or options.repeat < 1 or options.operations < 1 or options.import_rows < 1:
        print("--scale, --repeat, --operations and --import-rows must be positive.", file=sys.stderr)
        return 2
    # The benchmarks empty the profile tables: never on a database that is not meant for it.
    name = database_name(connection.settings_dict)
    if "bench" not in name:
        print(
            f"Refusing to run on the database {name!r}: the benchmarks delete every profile. "
            "Point DATABASE_URL at a database whose name contains 'bench' (make bench uses cdp_bench).",
            file=sys.stderr,
        )
        return 2

    if database_create_if_missing(connection.settings_dict):
        print(f"Created the database {name}.")
    call_command("migrate", interactive=False, verbosity=0)
    # Production runs with DEBUG off: no query log to slow the figures down.
    settings.DEBUG = False

    selected = [registry[name] for name in names] if names else list(registry.values())
    context = BenchContext(
        scale=options.scale, operations=options.operations, seed=options.seed, import_rows=options.import_rows
    )
    print(f"CDP benchmarks, {datetime.datetime.now():%Y-%m-%d %H:%M}")
    print(f"Machine: {machine_describe()}")
    print(
        f"Scale: {options.scale:,} profiles; {options.operations:,} operations per run; "
        f"{options.repeat} runs per figure (median shown)"
    )
    if any(bench.name == "crm_import" for bench in selected):
        print(f"CRM import: a generated file of {options.import_rows:,} rows")
    print()

    def report(bench, run, measurements) -> None:
        figures = ", ".join(f"{m.figure} {number_format(m.value)} {m.unit}" for m in measurements)
        print(f"  {bench.name} run {run + 1}/{options.repeat}: {figures}", flush=True)

    results = benchmarks_run(selected, context=context, repeat=options.repeat, on_measurement=report)
    print()
    print(table_format(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
