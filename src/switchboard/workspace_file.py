"""Configuration as code: ``switchboard apply FILE`` and ``switchboard export WORKSPACE_SID``.

A workspace file (YAML or JSON) describes one workspace and what it is made of; everything is
referred to by name, never by SID, so the file means the same on any server::

    workspace:
      friendly_name: Support
      default_activity: Offline
      timeout_activity: Offline
    activities:
      - {friendly_name: Offline, available: false}
    task_channels:
      - {unique_name: voice, friendly_name: Voice}
    task_queues:
      - {friendly_name: Billing, target_workers: "'billing' IN skills"}
    workflows:
      - friendly_name: Calls
        task_reservation_timeout: 120
        configuration:
          task_routing:
            default_filter: {queue: Billing}      # a queue's name, not its SID
    workers:
      - {friendly_name: alice, activity: Offline, attributes: {skills: [billing]}}

Both speak only the public REST API through the official twilio client, so they work on
Twilio's TaskRouter too (``--url https://taskrouter.twilio.com``).

``apply`` finds the workspace by its friendly name (or creates it) and each resource by its
name (a task channel by its unique name), creates what is missing and updates only the fields
that differ: applying a file twice changes nothing the second time. A field the file leaves
out is left as it is, and nothing missing from the file is deleted. A worker's activity is set
when the worker is created, never changed afterwards (it is the agent's live state, not
configuration). An activity's ``available`` cannot change (TaskRouter allows no such update).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")
# Per kind: the name identifying a resource, and the fields compared and written as they are.
WORKSPACE_FIELDS = ("event_callback_url", "events_filter", "multi_task_enabled",
                    "prioritize_queue_order")
CHANNEL_FIELDS = ("friendly_name", "channel_optimized_routing")
QUEUE_FIELDS = ("target_workers", "max_reserved_workers", "task_order")
WORKFLOW_FIELDS = ("assignment_callback_url", "fallback_assignment_callback_url",
                   "task_reservation_timeout")
KINDS = ("activities", "task_channels", "task_queues", "workflows", "workers")


class WorkspaceFileError(click.ClickException):
    """The file cannot be applied as it is: said in one line."""


@dataclass
class Applied:
    """What ``apply`` did: the workspace, and one line per resource created or updated."""

    workspace_sid: str
    changes: list[str] = field(default_factory=list)


def client_for(url: str, account_sid: str, auth_token: str) -> Any:
    """The official client, its TaskRouter API at ``url``."""
    from twilio.rest import Client

    client = Client(account_sid, auth_token, environment={})
    client.taskrouter.base_url = url.rstrip("/")
    return client


def load(path: Path) -> dict[str, Any]:
    """A workspace file: YAML, of which JSON is a part."""
    import yaml  # here, not at the top: `switchboard serve` starts without it

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise WorkspaceFileError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise WorkspaceFileError(f"{path} is neither YAML nor JSON: "
                                 f"{' '.join(str(exc).split())}") from None
    if not isinstance(data, dict) or not isinstance(data.get("workspace"), dict) \
            or not data["workspace"].get("friendly_name"):
        raise WorkspaceFileError(f"{path}: expected a mapping with workspace.friendly_name")
    for kind in KINDS:
        if not isinstance(data.get(kind, []), list):
            raise WorkspaceFileError(f"{path}: {kind} must be a list")
    return data


def dump(spec: dict[str, Any], fmt: str) -> str:
    import yaml

    if fmt == "json":
        return json.dumps(spec, indent=2) + "\n"
    return str(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100))


# ---------------------------------------------------------------------- export


def export(client: Any, workspace_sid: str) -> dict[str, Any]:
    """The workspace as a file's mapping: names instead of SIDs, lists sorted by name."""
    ws = client.taskrouter.v1.workspaces(workspace_sid)
    workspace = ws.fetch()
    activities = sorted(ws.activities.list(), key=lambda a: a.friendly_name)
    activity_names = {a.sid: a.friendly_name for a in activities}
    queues = sorted(ws.task_queues.list(), key=lambda q: q.friendly_name)
    queue_names = {q.sid: q.friendly_name for q in queues}

    head: dict[str, Any] = {"friendly_name": workspace.friendly_name}
    head.update(_present(workspace, WORKSPACE_FIELDS))
    for name in ("default_activity", "timeout_activity"):
        sid = getattr(workspace, f"{name}_sid")
        if sid in activity_names:
            head[name] = activity_names[sid]
    spec: dict[str, Any] = {"workspace": head}
    spec["activities"] = [{"friendly_name": a.friendly_name, "available": bool(a.available)}
                          for a in activities]
    spec["task_channels"] = [
        {"unique_name": c.unique_name, **_present(c, CHANNEL_FIELDS)}
        for c in sorted(ws.task_channels.list(), key=lambda c: c.unique_name)]
    spec["task_queues"] = []
    for queue in queues:
        item = {"friendly_name": queue.friendly_name, **_present(queue, QUEUE_FIELDS)}
        for name in ("reservation_activity", "assignment_activity"):
            sid = getattr(queue, f"{name}_sid")
            if sid in activity_names:
                item[name] = activity_names[sid]
        spec["task_queues"].append(item)
    spec["workflows"] = [
        {"friendly_name": w.friendly_name, **_present(w, WORKFLOW_FIELDS),
         "configuration": _swap_queues(json.loads(w.configuration),
                                       lambda sid: queue_names.get(sid, sid))}
        for w in sorted(ws.workflows.list(), key=lambda w: w.friendly_name)]
    spec["workers"] = [
        {"friendly_name": w.friendly_name, "activity": w.activity_name,
         "attributes": json.loads(w.attributes or "{}")}
        for w in sorted(ws.workers.list(), key=lambda w: w.friendly_name)]
    return spec


def _present(resource: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(resource, name) for name in fields
            if getattr(resource, name, None) is not None}


def _swap_queues(value: Any, swap: Callable[[str], str]) -> Any:
    """The workflow configuration with each target's ``queue`` passed through ``swap``."""
    if isinstance(value, dict):
        return {k: (swap(v) if k == "queue" and isinstance(v, str) else _swap_queues(v, swap))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_swap_queues(v, swap) for v in value]
    return value


# ---------------------------------------------------------------------- apply


def apply(client: Any, spec: dict[str, Any]) -> Applied:
    """Make the server's workspace what ``spec`` says, changing only what differs."""
    head = spec["workspace"]
    name = head["friendly_name"]
    workspaces = client.taskrouter.v1.workspaces
    found = workspaces.list(friendly_name=name)
    if len(found) > 1:
        raise WorkspaceFileError(f"{len(found)} workspaces are named {name!r}; rename all "
                                 "but one")
    if found:
        result = Applied(found[0].sid)
        current = found[0]
    else:
        current = workspaces.create(friendly_name=name, **_given(head, WORKSPACE_FIELDS))
        result = Applied(current.sid, [f"created workspace {name}"])
    ws = workspaces(result.workspace_sid)

    activities = _apply_activities(ws, spec.get("activities", []), result)
    _update_if_changed(result, f"workspace {name}", current, {
        **_given(head, WORKSPACE_FIELDS),
        **{f"{key}_sid": _sid_of(activities, head[key], "activity")
           for key in ("default_activity", "timeout_activity") if key in head}},
        _updater(ws))
    _apply_channels(ws, spec.get("task_channels", []), result)
    queues = _apply_queues(ws, spec.get("task_queues", []), activities, result)
    _apply_workflows(ws, spec.get("workflows", []), queues, result)
    _apply_workers(ws, spec.get("workers", []), activities, result)
    return result


def _apply_activities(ws: Any, wanted: list[dict[str, Any]], result: Applied
                      ) -> dict[str, str]:
    existing = {a.friendly_name: a for a in ws.activities.list()}
    for item in wanted:
        name = _name(item, "friendly_name", "activity")
        available = bool(item.get("available", False))
        if name not in existing:
            existing[name] = ws.activities.create(friendly_name=name, available=available)
            result.changes.append(f"created activity {name}")
        elif "available" in item and bool(existing[name].available) != available:
            raise WorkspaceFileError(f"activity {name!r} exists with available="
                                     f"{bool(existing[name].available)}; TaskRouter cannot "
                                     "change that (make a new activity)")
    return {n: a.sid for n, a in existing.items()}


def _apply_channels(ws: Any, wanted: list[dict[str, Any]], result: Applied) -> None:
    existing = {c.unique_name: c for c in ws.task_channels.list()}
    for item in wanted:
        name = _name(item, "unique_name", "task channel")
        fields = _given(item, CHANNEL_FIELDS)
        if name not in existing:
            fields.setdefault("friendly_name", name)
            ws.task_channels.create(unique_name=name, **fields)
            result.changes.append(f"created task channel {name}")
            continue
        channel = existing[name]
        _update_if_changed(result, f"task channel {name}", channel, fields,
                           _updater(ws.task_channels(channel.sid)))


def _apply_queues(ws: Any, wanted: list[dict[str, Any]], activities: dict[str, str],
                  result: Applied) -> dict[str, str]:
    existing = {q.friendly_name: q for q in ws.task_queues.list()}
    sids = {n: q.sid for n, q in existing.items()}
    for item in wanted:
        name = _name(item, "friendly_name", "task queue")
        fields = _given(item, QUEUE_FIELDS)
        for key in ("reservation_activity", "assignment_activity"):
            if key in item:
                fields[f"{key}_sid"] = _sid_of(activities, item[key], "activity")
        if name not in existing:
            sids[name] = ws.task_queues.create(friendly_name=name, **fields).sid
            result.changes.append(f"created task queue {name}")
            continue
        queue = existing[name]
        _update_if_changed(result, f"task queue {name}", queue, fields,
                           _updater(ws.task_queues(queue.sid)))
    return sids


def _apply_workflows(ws: Any, wanted: list[dict[str, Any]], queues: dict[str, str],
                     result: Applied) -> None:
    existing = {w.friendly_name: w for w in ws.workflows.list()}

    def queue_sid(name: str) -> str:
        if name in queues:
            return queues[name]
        if SID.match(name):
            return name
        raise WorkspaceFileError(f"a workflow names the queue {name!r}, which neither the file "
                                 "nor the workspace has")

    for item in wanted:
        name = _name(item, "friendly_name", "workflow")
        fields = _given(item, WORKFLOW_FIELDS)
        if "configuration" not in item:
            raise WorkspaceFileError(f"workflow {name!r} has no configuration")
        configuration = _swap_queues(item["configuration"], queue_sid)
        if name not in existing:
            ws.workflows.create(friendly_name=name, configuration=json.dumps(configuration),
                                **fields)
            result.changes.append(f"created workflow {name}")
            continue
        workflow = existing[name]
        if json.loads(workflow.configuration) != configuration:
            fields["configuration"] = json.dumps(configuration)
        else:
            fields["configuration"] = workflow.configuration  # the same: not an update
        _update_if_changed(result, f"workflow {name}", workflow, fields,
                           _updater(ws.workflows(workflow.sid)))


def _apply_workers(ws: Any, wanted: list[dict[str, Any]], activities: dict[str, str],
                   result: Applied) -> None:
    existing = {w.friendly_name: w for w in ws.workers.list()}
    for item in wanted:
        name = _name(item, "friendly_name", "worker")
        attributes = item.get("attributes", {})
        if name not in existing:
            extra = ({"activity_sid": _sid_of(activities, item["activity"], "activity")}
                     if "activity" in item else {})
            ws.workers.create(friendly_name=name, attributes=json.dumps(attributes), **extra)
            result.changes.append(f"created worker {name}")
            continue
        worker = existing[name]
        if "attributes" in item and json.loads(worker.attributes or "{}") != attributes:
            ws.workers(worker.sid).update(attributes=json.dumps(attributes))
            result.changes.append(f"updated worker {name}: attributes")


def _update_if_changed(result: Applied, what: str, current: Any, wanted: dict[str, Any],
                       update: Callable[[dict[str, Any]], Any]) -> None:
    changed = {k: v for k, v in wanted.items() if getattr(current, k, None) != v}
    if changed:
        update(changed)
        result.changes.append(f"updated {what}: {', '.join(sorted(changed))}")


def _updater(context: Any) -> Callable[[dict[str, Any]], Any]:
    """Updates the resource of a twilio context with the fields given."""
    return lambda changed: context.update(**changed)


def _given(item: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: item[k] for k in fields if k in item}


def _name(item: Any, key: str, kind: str) -> str:
    if not isinstance(item, dict) or not isinstance(item.get(key), str) or not item[key]:
        raise WorkspaceFileError(f"each {kind} needs a {key}: {item!r}")
    return str(item[key])


def _sid_of(sids: dict[str, str], name: str, kind: str) -> str:
    if name in sids:
        return sids[name]
    raise WorkspaceFileError(f"no {kind} named {name!r} in the file or the workspace")


# ---------------------------------------------------------------------- commands

URL = click.option("--url", envvar="SWITCHBOARD_URL", default="http://127.0.0.1:8080",
                   show_default=True,
                   help="The TaskRouter API's base (https://taskrouter.twilio.com for Twilio).")
ACCOUNT = click.option("--account-sid", envvar=["SWITCHBOARD_ACCOUNT_SID",
                                                "TWILIO_ACCOUNT_SID"], required=True,
                       help="Default: $SWITCHBOARD_ACCOUNT_SID or $TWILIO_ACCOUNT_SID.")
TOKEN = click.option("--auth-token", envvar=["SWITCHBOARD_AUTH_TOKEN", "TWILIO_AUTH_TOKEN"],
                     required=True,
                     help="Default: $SWITCHBOARD_AUTH_TOKEN or $TWILIO_AUTH_TOKEN.")


def api_errors(run: Callable[[], None]) -> None:
    from twilio.base.exceptions import TwilioException, TwilioRestException

    try:
        run()
    except TwilioRestException as exc:
        raise click.ClickException(f"{exc.method} {exc.uri}: {exc.status} {exc.msg}"
                                   ) from None
    except TwilioException as exc:
        raise click.ClickException(str(exc)) from None


@click.command("apply")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@URL
@ACCOUNT
@TOKEN
def apply_command(file: Path, url: str, account_sid: str, auth_token: str) -> None:
    """Create or update a workspace from a YAML or JSON file, changing only what differs."""
    spec = load(file)

    def run() -> None:
        done = apply(client_for(url, account_sid, auth_token), spec)
        for line in done.changes:
            click.echo(line)
        click.echo(f"{done.workspace_sid}: {len(done.changes) or 'no'} "
                   f"change{'' if len(done.changes) == 1 else 's'}")

    api_errors(run)


@click.command("export")
@click.argument("workspace_sid", metavar="WS…")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True)
@URL
@ACCOUNT
@TOKEN
def export_command(workspace_sid: str, fmt: str, url: str, account_sid: str,
                   auth_token: str) -> None:
    """Print a workspace as a file for `switchboard apply`."""
    api_errors(lambda: click.echo(dump(export(client_for(url, account_sid, auth_token),
                                               workspace_sid), fmt), nl=False))
