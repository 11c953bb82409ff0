"""``tenantcron``: the command line over the API client.

    export TENANTCRON_URL=https://cron.example.com TENANTCRON_TOKEN=tc_...
    tenantcron schedules add 42 products --job webhook --cron '0 */6 * * *' --payload '{"url": "https://..."}'
    tenantcron schedules list --tenant 42
    tenantcron schedules pause 42 products --note "payment failed"
    tenantcron schedules resume 42 products
    tenantcron schedules trigger 42 products
    tenantcron schedules runs 42 products
    tenantcron schedules remove 42 products
    tenantcron tenants apply-tier 42 premium --data '{"webhook_url": "https://..."}'
    tenantcron tenants pause 42 --note churned | tenants resume 42 | tenants remove 42 | tenants audit 42

Output is JSON; errors go to stderr with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from client import ApiError, TenantCron


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tenantcron", description="Manage tenant schedules over the API.")
    parser.add_argument("--url", default=os.environ.get("TENANTCRON_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("TENANTCRON_TOKEN"))
    groups = parser.add_subparsers(dest="group", required=True)

    schedules = groups.add_parser("schedules").add_subparsers(dest="command", required=True)
    listing = schedules.add_parser("list")
    listing.add_argument("--tenant")
    listing.add_argument("--job")
    add = schedules.add_parser("add", help="create or replace")
    add.add_argument("tenant")
    add.add_argument("key")
    add.add_argument("--job", required=True)
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron")
    when.add_argument("--every")
    add.add_argument("--timezone", default="UTC")
    add.add_argument("--payload", type=json.loads, default={}, help="a JSON object")
    add.add_argument("--jitter", type=int, default=0)
    add.add_argument("--stagger", action="store_true")
    add.add_argument("--paused", action="store_true")
    for name in ("get", "remove", "resume", "trigger", "runs"):
        command = schedules.add_parser(name)
        command.add_argument("tenant")
        command.add_argument("key")
    pause = schedules.add_parser("pause")
    pause.add_argument("tenant")
    pause.add_argument("key")
    pause.add_argument("--note")

    tenants = groups.add_parser("tenants").add_subparsers(dest="command", required=True)
    for name in ("resume", "remove", "audit"):
        tenants.add_parser(name).add_argument("tenant")
    apply_tier = tenants.add_parser("apply-tier", help="make the tenant's tier-managed schedules the tier's")
    apply_tier.add_argument("tenant")
    apply_tier.add_argument("tier")
    apply_tier.add_argument("--data", type=json.loads, default={}, help="integration data, a JSON object")
    tenant_pause = tenants.add_parser("pause")
    tenant_pause.add_argument("tenant")
    tenant_pause.add_argument("--note")

    jobs = groups.add_parser("jobs").add_subparsers(dest="command", required=True)
    enqueue = jobs.add_parser("enqueue", help="run a job now or after --delay")
    enqueue.add_argument("tenant")
    enqueue.add_argument("job")
    enqueue.add_argument("--payload", type=json.loads, default={}, help="a JSON object")
    enqueue.add_argument("--delay", help="seconds or a duration such as 10m")
    enqueue.add_argument("--priority", choices=("normal", "high"))
    enqueue.add_argument("--max-attempts", type=int)

    runs = groups.add_parser("runs").add_subparsers(dest="command", required=True)
    for name in ("get", "cancel", "retry"):
        runs.add_parser(name).add_argument("run_id", type=int)

    letters = groups.add_parser("dead-letters").add_subparsers(dest="command", required=True)
    letters.add_parser("list").add_argument("--tenant")
    retry = letters.add_parser("retry", help="one dead letter by id, or all (of --tenant)")
    retry.add_argument("id", nargs="?")
    retry.add_argument("--tenant")
    return parser


def run(args: argparse.Namespace, api: TenantCron) -> Any:
    if args.group == "schedules":
        if args.command == "list":
            return list(api.list_schedules(tenant=args.tenant, job=args.job))
        if args.command == "add":
            fields = {
                "job": args.job,
                "timezone": args.timezone,
                "payload": args.payload,
                "jitter": args.jitter,
                "stagger": args.stagger,
                "paused": args.paused,
            }
            fields.update({"cron": args.cron} if args.cron else {"every": args.every})
            return api.upsert_schedule(args.tenant, args.key, **fields)
        if args.command == "get":
            return api.get_schedule(args.tenant, args.key)
        if args.command == "remove":
            api.delete_schedule(args.tenant, args.key)
            return {"removed": 1}
        if args.command == "pause":
            return api.pause(args.tenant, args.key, args.note)
        if args.command == "resume":
            return api.resume(args.tenant, args.key)
        if args.command == "trigger":
            return api.trigger(args.tenant, args.key)
        if args.command == "runs":
            return api.runs(args.tenant, args.key)
    if args.group == "jobs":
        return api.enqueue_job(
            args.tenant,
            args.job,
            args.payload,
            delay=args.delay,
            priority=args.priority,
            max_attempts=args.max_attempts,
        )
    if args.group == "runs":
        return {"get": api.get_run, "cancel": api.cancel_run, "retry": api.retry_run}[args.command](args.run_id)
    if args.group == "dead-letters":
        if args.command == "list":
            return api.dead_letters(tenant=args.tenant)
        return {"retried": api.retry_dead_letters(args.id, tenant=args.tenant)}
    if args.command == "apply-tier":
        return api.apply_tier(args.tenant, args.tier, args.data)
    if args.command == "pause":
        return api.pause_tenant(args.tenant, args.note)
    if args.command == "resume":
        return api.resume_tenant(args.tenant)
    if args.command == "remove":
        return {"removed": api.remove_tenant(args.tenant)}
    return api.audit(args.tenant)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with TenantCron(args.url, args.token) as api:
        try:
            result = run(args, api)
        except ApiError as exc:
            print(json.dumps({"status": exc.status, "error": exc.message, "details": exc.details}), file=sys.stderr)
            return 1
    print(json.dumps(result, indent=2))
    return 0
