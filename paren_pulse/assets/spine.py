"""The AFDC spine: load one Station Locator export (file or NREL API) as a dated snapshot."""

import os
from typing import Any

import dagster as dg

from paren_pulse import afdc
from paren_pulse.resources.catalog import CatalogResource


class NrelApiResource(dg.ConfigurableResource):
    """The NREL AFDC API, needed only by `from_api` runs.

    The key is read from the environment variable named by `api_key_env_var` when a run needs it,
    not through `dg.EnvVar`: an unset EnvVar fails config resolution for every run of the asset,
    including file loads that need no key. Either way the value never enters run config, logs or
    metadata. `api_key` is for tests and notebooks only.
    """

    api_key_env_var: str = "NREL_API_KEY"
    api_key: str | None = None
    base_url: str = afdc.NREL_BASE_URL
    # Comma-separated: the API takes one country per request, so each is fetched in turn.
    countries: str = "US,CA"
    # A full US+CA answer is tens of MB; the timeout is per socket operation, not the whole read.
    timeout_seconds: float = 300.0

    def resolved_key(self) -> str:
        key = self.api_key or os.environ.get(self.api_key_env_var, "")
        if not key.strip():
            raise dg.Failure(
                f"afdc_spine: from_api needs an NREL API key in ${self.api_key_env_var} "
                "(free at https://developer.nrel.gov/signup/); or load a downloaded export with `path`"
            )
        return key.strip()


class AfdcSpineConfig(dg.Config):
    """Which export to load. Give `path` (a CSV download or API-format CSV, gzip or plain) or set
    `from_api`; `snapshot_date` overrides the date derived from the export's latest update."""

    path: str | None = None
    snapshot_date: str | None = None
    from_api: bool = False
    default_country: str | None = None


def _source(config: AfdcSpineConfig, nrel: NrelApiResource, aliases: dict[str, str]) -> afdc.ParsedExport:
    if config.from_api == bool(config.path):
        raise dg.Failure(
            "afdc_spine: give exactly one of `path` (an export file) or `from_api: true` in the run config"
        )
    if config.path:
        return afdc.parse_export(
            config.path,
            source_name=config.path,
            aliases=aliases,
            snapshot_date=config.snapshot_date,
            default_country=config.default_country,
        )
    return afdc.fetch_from_nrel(
        nrel.resolved_key(),
        base_url=nrel.base_url,
        countries=tuple(c.strip().upper() for c in nrel.countries.split(",") if c.strip()),
        timeout=nrel.timeout_seconds,
        aliases=aliases,
        snapshot_date=config.snapshot_date,
    )


def _in_scope_metadata(summary: afdc.LoadSummary) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for country in ("US", "CA"):
        for is_tesla, segment in ((1, "tesla"), (0, "non_tesla")):
            row = next(
                (r for r in summary.in_scope if r["country"] == country and int(r["is_tesla"]) == is_tesla),
                None,
            )
            metadata[f"{country.lower()}_{segment}_stations"] = int(row["spine_stations"]) if row else 0
            metadata[f"{country.lower()}_{segment}_ports"] = int(row["spine_ports"] or 0) if row else 0
    metadata["unclassified_in_scope_stations"] = sum(
        int(r["unclassified_stations"] or 0) for r in summary.in_scope
    )
    return metadata


@dg.asset(group_name="sources", kinds={"mysql"})
def afdc_spine(
    context: dg.AssetExecutionContext,
    config: AfdcSpineConfig,
    catalog: CatalogResource,
    nrel: NrelApiResource,
) -> dg.MaterializeResult:
    """One AFDC Station Locator export loaded into the catalog's `afdc_spine` as a dated snapshot,
    all or nothing (a re-load of the same date replaces it). Networks are normalised through the
    curated `network_aliases` table; labels it lacks are loaded unclassified and reported."""
    aliases = afdc.read_aliases(catalog)
    if not aliases:
        # Without the mapping every Tesla station would load as non-Tesla: refuse instead.
        raise dg.Failure(
            "afdc_spine: the catalog's network_aliases table is empty; load the reviewed "
            "paren_pulse/reference/networks.csv into network_aliases/network_classification first "
            "(docs/afdc.md)"
        )
    try:
        parsed = _source(config, nrel, aliases)
    except afdc.ExportError as exc:
        # The message names the file, row and column; the API key is already redacted from it.
        raise dg.Failure(str(exc)) from None
    summary = afdc.load_snapshot(catalog, parsed)
    if parsed.unknown_networks:
        context.log.warning(
            f"{sum(parsed.unknown_networks.values())} stations carry EV Network labels missing from "
            f"network_aliases (loaded unclassified, counted non-Tesla): "
            + ", ".join(f"{label or '(blank)'}={n}" for label, n in parsed.unknown_networks.items())
            + ". Review and add them to paren_pulse/reference/networks.csv."
        )
    context.log.info(
        f"spine snapshot {parsed.snapshot_date} loaded from {parsed.source_name}: "
        f"{summary.rows_inserted} rows ({summary.rows_replaced} replaced)"
    )
    unknown_table = (
        "| EV Network label | stations |\n|---|---|\n"
        + "".join(f"| {label or '(blank)'} | {n} |\n" for label, n in parsed.unknown_networks.items())
        if parsed.unknown_networks
        else "none"
    )
    return dg.MaterializeResult(
        metadata={
            "snapshot_date": parsed.snapshot_date.isoformat(),
            "snapshot_date_source": "derived (latest Updated At / Date Last Confirmed)"
            if parsed.snapshot_date_derived
            else "given in config",
            "source": summary.source,
            "format": parsed.export_format,
            "rows": summary.rows_inserted,
            "rows_replaced": summary.rows_replaced,
            "data_rows_read": parsed.data_rows,
            "skipped_rows": parsed.skipped_rows,
            "skipped_by_fuel": dg.MetadataValue.json(parsed.skipped_fuel_rows),
            "unknown_network_stations": sum(parsed.unknown_networks.values()),
            "unknown_networks": dg.MetadataValue.md(unknown_table),
            "unknown_networks_json": dg.MetadataValue.json(parsed.unknown_networks),
            **_in_scope_metadata(summary),
            "in_scope": dg.MetadataValue.json(summary.in_scope),
        }
    )
