"""``/v1/preview``: the next fire times of a pattern or interval in a zone, without saving anything."""

from __future__ import annotations

from datetime import UTC, datetime

import falcon

from api.params import whole_number
from app import cron
from app.errors import ValidationError

#: Most fire times one preview returns.
MAX_COUNT = 100


class PreviewResource:
    """``GET /v1/preview?cron=0 */6 * * *&timezone=Europe/Berlin&count=5`` (or ``every=15m``)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        errors: list[dict[str, str]] = []
        pattern, every = req.get_param("cron"), req.get_param("every")
        timezone = req.get_param("timezone") or "UTC"
        spec = None
        try:
            cron.zone_info(timezone)
            if (pattern is None) == (every is None):
                raise cron.CronError("give exactly one of cron and every", field="cron")
            if pattern is not None:
                spec = cron.TriggerSpec(cron.normalize(pattern), None, timezone)
            else:
                spec = cron.TriggerSpec(None, cron.parse_every(every), "UTC")
        except cron.CronError as exc:
            errors.append({"field": exc.field or ("cron" if pattern is not None else "every"), "message": str(exc)})
        count = req.get_param("count") or "5"
        if whole_number(count) is None or not 1 <= int(count) <= MAX_COUNT:
            errors.append({"field": "count", "message": f"must be a whole number from 1 to {MAX_COUNT}"})
        after = datetime.now(UTC)
        if req.get_param("after"):
            try:
                after = datetime.fromisoformat(req.get_param("after").replace("Z", "+00:00"))
                if after.tzinfo is None:
                    raise ValueError
            except ValueError:
                errors.append({"field": "after", "message": "must be an ISO 8601 instant with a UTC offset"})
        if errors:
            raise ValidationError(errors)
        zone = cron.zone_info(spec.timezone)
        fires = spec.next_fires(after, int(count))
        resp.media = {
            "cron": spec.cron,
            "every": cron.format_every(spec.every) if spec.every else None,
            "timezone": spec.timezone,
            "fires": [{"utc": f.isoformat(), "local": f.astimezone(zone).isoformat()} for f in fires],
        }
