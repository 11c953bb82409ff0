"""Tiers: named plans, each a set of (key, job, pattern, payload template) entries.

Applying a tier to a tenant creates, changes and removes the tenant's tier-managed schedules so
they match the tier exactly; schedules the tenant got any other way are left alone. Stagger is on
by default, so a tier's tenants spread over each pattern's period. Payload templates name the
tenant's integration data: ``{"url": "{webhook_url}"}`` takes ``webhook_url`` from it.

The tiers come from the JSON file TIERS_FILE (default: app/tiers.json, an example to replace).
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.errors import ValidationError
from app.models import schedules
from app.schedules import ScheduleInput, ScheduleService

#: The example tiers shipped with the service.
DEFAULT_TIERS_FILE = Path(__file__).with_name("tiers.json")


class TierConfigError(ValueError):
    """The tiers file is malformed; the message names the tier and entry."""


def load_tiers(path: str | Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """Read and check the tiers file: every entry must be a valid schedule once its data is filled in."""
    path = Path(path or DEFAULT_TIERS_FILE)
    try:
        tiers = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TierConfigError(f"cannot read tiers file {path}: {exc}") from None
    if not isinstance(tiers, dict) or not tiers:
        raise TierConfigError(f"{path}: expected an object of tier name -> list of entries")
    for name, entries in tiers.items():
        if not isinstance(entries, list):
            raise TierConfigError(f"{path}: tier {name!r} must be a list of entries")
        keys = [entry.get("key") for entry in entries if isinstance(entry, dict)]
        if len(keys) != len(entries) or len(set(keys)) != len(keys):
            raise TierConfigError(f"{path}: tier {name!r} needs objects with distinct keys")
        for entry in entries:
            sample = {field: "https://example.test/x" for field in _fields(entry.get("payload", {}))}
            doc = _document(entry, sample)
            try:
                ScheduleInput.parse("tenant", entry["key"], doc)
            except ValidationError as exc:
                raise TierConfigError(f"{path}: tier {name!r} entry {entry['key']!r}: {exc}") from None
    return tiers


def _fields(template: Any) -> set[str]:
    if isinstance(template, str):
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if isinstance(template, Mapping):
        return set().union(*(_fields(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(_fields(v) for v in template)) if template else set()
    return set()


def _fill(template: Any, data: Mapping[str, Any]) -> Any:
    if isinstance(template, str):
        return template.format_map(data)
    if isinstance(template, Mapping):
        return {k: _fill(v, data) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, data) for v in template]
    return template


def _document(entry: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    doc = {k: v for k, v in entry.items() if k not in ("key", "payload")}
    doc.setdefault("stagger", True)
    doc["payload"] = _fill(entry.get("payload", {}), data)
    return doc


class TierService:
    """Applies tiers to tenants.

    Parameters:
      schedules: the schedule service that writes (and audits) the changes.
      tiers: tier name -> entries, from ``load_tiers``.
    """

    def __init__(self, schedules_service: ScheduleService, tiers: dict[str, list[dict[str, Any]]]):
        self.schedules = schedules_service
        self.tiers = tiers

    def apply(self, tenant_id: str, tier: Any, data: Any, actor: str = "system") -> dict[str, Any]:
        """Make the tenant's tier-managed schedules exactly the tier's (idempotent)."""
        if tier not in self.tiers:
            raise ValidationError([{"field": "tier", "message": f"unknown tier; one of {', '.join(self.tiers)}"}])
        if not isinstance(data, Mapping):
            raise ValidationError([{"field": "data", "message": "must be a JSON object of integration data"}])
        entries = self.tiers[tier]
        missing = sorted(set().union(*(_fields(e.get("payload", {})) for e in entries)) - set(data)) if entries else []
        if missing:
            raise ValidationError(
                [{"field": f"data.{name}", "message": f"tier {tier!r} needs it in its payloads"} for name in missing]
            )
        items = []
        for entry in entries:
            item = ScheduleInput.parse(tenant_id, entry["key"], _document(entry, data))
            items.append(ScheduleInput(**{**item.__dict__, "tier": tier}))
        with self.schedules.engine.connect() as conn:
            managed = {
                key
                for (key,) in conn.execute(
                    select(schedules.c.key).where(schedules.c.tenant_id == tenant_id, schedules.c.tier.is_not(None))
                )
            }
        wanted = {item.key for item in items}
        results = self.schedules.upsert_many(items, actor) if items else []
        removed = sorted(managed - wanted)
        for key in removed:
            self.schedules.delete(tenant_id, key, actor)
        return {
            "tier": tier,
            "created": sorted(s["key"] for s, created in results if created),
            "updated": sorted(s["key"] for s, created in results if not created),
            "removed": removed,
            "schedules": [s for s, _ in results],
        }
