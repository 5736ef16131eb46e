"""JSON schemas of what the endpoints answer, for the OpenAPI document.

One schema per resource kind, with the fields its renderer produces (every one of them, so all
are required), and one per list page: the list under its key and Twilio's ``meta``. Endpoints
are matched to them by operation ID (the handler's name). tests/api/test_api_reference.py
checks real answers against these, so a renderer and its schema cannot drift apart unseen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Schema = dict[str, Any]

# ---------------------------------------------------------------------- field types


def _nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
SID: Schema = {"type": "string", "minLength": 34, "maxLength": 34}
DATE: Schema = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC"}
URL: Schema = {"type": "string", "format": "uri"}
JSON_TEXT: Schema = {"type": "string", "description": "JSON, as the client sent it"}
LINKS: Schema = {"type": "object", "additionalProperties": _nullable(URL)}


def obj(properties: dict[str, Schema], optional: Iterable[str] = (),
        description: str | None = None) -> Schema:
    """An object whose properties are all present unless named ``optional``."""
    schema: Schema = {"type": "object", "properties": properties,
                      "required": sorted(set(properties) - set(optional))}
    if description:
        schema["description"] = description
    return schema


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def page_of(key: str, item: str) -> Schema:
    return obj({key: {"type": "array", "items": ref(item)}, "meta": ref("PageMeta")})


def _owned(**fields: Schema) -> dict[str, Schema]:
    """Fields every workspace resource has, plus its own."""
    return {"account_sid": SID, "workspace_sid": SID, "sid": SID, "date_created": DATE,
            "date_updated": DATE, "url": URL, **fields}


# ---------------------------------------------------------------------- resources

_EXTENSION = "A Switchboard extension, not in Twilio's TaskRouter"
_MS: Schema = {**INTEGER, "description": "epoch milliseconds"}
INSIGHT: dict[str, Schema] = {
    "ExpressionEvaluation": obj({
        "valid": BOOLEAN, "subject": {"type": "string", "enum": ["Workers", "Tasks"]},
        "form": {"type": "string", "enum": ["target_workers", "target_expression",
                                            "filter_expression"],
                 "description": "How the expression was evaluated"},
        "task_queue_sid": {**_nullable(SID), "description": "The queue with exactly this "
                           "TargetWorkers, whose membership index answered"},
        "matches": {"type": "array", "items": obj({
            "sid": SID, "friendly_name": _nullable(STRING),
            "assignment_status": STRING, "task_queue_sid": _nullable(SID)},
            optional=["assignment_status", "task_queue_sid"]),
            "description": "The first 1,000, in creation order"},
        "count": {**INTEGER, "description": "How many match in all"},
        "error": obj({"message": STRING, "position": _nullable(INTEGER),
                      "line": _nullable(INTEGER), "column": _nullable(INTEGER)},
                     description="Why the expression does not compile; position is 0-based, "
                     "line and column 1-based"),
        "url": URL,
    }, optional=["form", "task_queue_sid", "matches", "count", "error"],
        description=_EXTENSION),
    "Timers": obj({
        "now": DATE, "now_ms": _MS,
        "timers": {"type": "array", "items": obj({
            "kind": {"type": "string", "enum": ["reservation_timeout", "target_timeout",
                                                "task_ttl", "task_purge"]},
            "due_at": DATE, "due_ms": _MS, "due_in_ms": INTEGER,
            "task_sid": _nullable(SID), "reservation_sid": _nullable(SID),
            "worker_sid": _nullable(SID), "task_queue_sid": _nullable(SID),
            "description": STRING})},
        "url": URL,
    }, description=_EXTENSION),
    "TaskRouting": obj({
        "account_sid": SID, "workspace_sid": SID, "task_sid": SID,
        "workflow_sid": _nullable(SID), "workflow_friendly_name": _nullable(STRING),
        "assignment_status": STRING, "task_queue_sid": _nullable(SID),
        "steps": {"type": "array", "description": "The task's path, oldest first", "items": obj({
            "time": DATE, "time_ms": _MS, "kind": STRING, "filter_name": _nullable(STRING),
            "target_index": {**_nullable(INTEGER), "description": "0-based"},
            "task_queue_sid": _nullable(SID), "task_queue_friendly_name": _nullable(STRING),
            "expression": _nullable(STRING), "worker_sid": _nullable(SID),
            "worker_friendly_name": _nullable(STRING), "reservation_sid": _nullable(SID),
            "reason": STRING})},
        "decision": _nullable(obj({
            "as_of": {"type": "string", "enum": ["reservation", "now"]},
            "time": _nullable(DATE), "time_ms": _nullable(_MS),
            "strategy": STRING, "how": _nullable(STRING), "order_by": _nullable(STRING),
            "reason": STRING, "task_queue_sid": _nullable(SID),
            "task_queue_friendly_name": _nullable(STRING), "reservation_sid": _nullable(SID),
            "worker_sid": _nullable(SID), "worker_friendly_name": _nullable(STRING),
            "worker_idle_since": _nullable(DATE),
            "considered": obj({
                "as_of": STRING, "time": DATE, "members": INTEGER, "eligible": INTEGER,
                "excluded": {"type": "object", "additionalProperties": INTEGER},
                "top": {"type": "array", "items": obj({
                    "rank": INTEGER, "sid": SID, "friendly_name": STRING, "idle_since": DATE,
                    "order_by": {"type": "array", "items": _nullable(INTEGER), "description":
                                 "order_by's values; null: not an integer, ranked last"}})},
            }, description="The queue's members as they are now"),
        })),
        "url": URL,
    }, description=_EXTENSION),
}

RESOURCES: dict[str, Schema] = {
    "PageMeta": obj({
        "first_page_url": URL, "key": STRING, "next_page_url": _nullable(URL),
        "page": INTEGER, "page_size": INTEGER, "previous_page_url": _nullable(URL),
        "url": URL,
    }, description="Where this page is and how to reach the others"),
    "Workspace": obj({
        **{k: v for k, v in _owned().items() if k != "workspace_sid"},
        "default_activity_name": _nullable(STRING),
        "default_activity_sid": _nullable(SID), "event_callback_url": _nullable(URL),
        "events_filter": _nullable(STRING), "friendly_name": STRING,
        "multi_task_enabled": BOOLEAN,
        "prioritize_queue_order": {"type": "string", "enum": ["FIFO", "LIFO"]},
        "timeout_activity_name": _nullable(STRING), "timeout_activity_sid": _nullable(SID),
        "links": LINKS,
    }),
    "Activity": obj({**_owned(), "available": BOOLEAN, "friendly_name": STRING,
                     "links": LINKS}),
    "TaskChannel": obj({**_owned(), "friendly_name": STRING, "unique_name": STRING,
                        "channel_optimized_routing": _nullable(BOOLEAN), "links": LINKS}),
    "Worker": obj({
        **_owned(), "activity_name": _nullable(STRING), "activity_sid": SID,
        "attributes": JSON_TEXT, "available": BOOLEAN, "date_status_changed": DATE,
        "friendly_name": STRING, "links": LINKS,
    }),
    "WorkerChannel": obj({
        **_owned(), "assigned_tasks": INTEGER, "available": BOOLEAN,
        "available_capacity_percentage": INTEGER, "configured_capacity": INTEGER,
        "task_channel_sid": SID, "task_channel_unique_name": STRING, "worker_sid": SID,
    }),
    "TaskQueue": obj({
        **_owned(), "assignment_activity_sid": _nullable(SID),
        "assignment_activity_name": _nullable(STRING), "friendly_name": STRING,
        "max_reserved_workers": INTEGER, "reservation_activity_sid": _nullable(SID),
        "reservation_activity_name": _nullable(STRING),
        "target_workers": {"type": "string", "description": "A TaskRouter expression"},
        "task_order": {"type": "string", "enum": ["FIFO", "LIFO"]}, "links": LINKS,
    }),
    "Workflow": obj({
        **_owned(), "assignment_callback_url": _nullable(URL), "configuration": JSON_TEXT,
        "document_content_type": STRING, "fallback_assignment_callback_url": _nullable(URL),
        "friendly_name": STRING, "task_reservation_timeout": INTEGER, "links": LINKS,
    }),
    "Task": obj({
        **_owned(), "age": INTEGER,
        "assignment_status": {"type": "string", "enum": [
            "pending", "reserved", "assigned", "wrapping", "completed", "canceled"]},
        "attributes": JSON_TEXT, "addons": JSON_TEXT,
        "task_queue_entered_date": _nullable(DATE), "priority": INTEGER,
        "reason": _nullable(STRING), "task_queue_sid": _nullable(SID),
        "task_queue_friendly_name": _nullable(STRING), "task_channel_sid": SID,
        "task_channel_unique_name": _nullable(STRING), "timeout": INTEGER,
        "workflow_sid": _nullable(SID), "workflow_friendly_name": _nullable(STRING),
        "links": LINKS, "virtual_start_time": DATE, "ignore_capacity": _nullable(BOOLEAN),
        "routing_target": _nullable(SID),
    }),
    "Reservation": obj({
        **_owned(), "reservation_status": {"type": "string", "enum": [
            "pending", "accepted", "rejected", "timeout", "canceled", "rescinded",
            "wrapping", "completed"]},
        "task_sid": SID, "worker_name": _nullable(STRING), "worker_sid": SID,
        "links": LINKS,
    }),
    "Event": obj({
        **{k: v for k, v in _owned().items() if k not in ("date_created", "date_updated")},
        "actor_sid": SID, "actor_type": STRING, "actor_url": _nullable(URL),
        "description": STRING,
        "event_data": {"type": "object", "additionalProperties": _nullable(STRING)},
        "event_date": DATE, "event_date_ms": INTEGER, "event_type": STRING,
        "resource_sid": SID, "resource_type": STRING, "resource_url": URL, "source": STRING,
        "source_ip_address": _nullable(STRING),
    }),
    "Key": obj({
        "sid": SID, "friendly_name": STRING,
        "date_created": {"type": "string", "description": "RFC 2822"},
        "date_updated": {"type": "string", "description": "RFC 2822"},
        "secret": {"type": "string", "description": "Only in the answer to create"},
    }, optional=["secret"]),
    "KeyList": obj({
        "keys": {"type": "array", "items": ref("Key")}, "end": INTEGER,
        "first_page_uri": STRING, "next_page_uri": _nullable(STRING), "page": INTEGER,
        "page_size": INTEGER, "previous_page_uri": _nullable(STRING), "start": INTEGER,
        "uri": STRING,
    }, description="The 2010-04-01 API's list page: relative *_page_uri fields"),
    "QueuePosition": obj({
        "account_sid": SID, "workspace_sid": SID, "task_sid": SID,
        "task_queue_sid": _nullable(SID), "task_channel_sid": SID,
        "position": {**_nullable(INTEGER),
                     "description": "1-based; null when the task is not waiting"},
        "tasks_ahead": _nullable(INTEGER),
        "estimated_wait_time": {**_nullable(INTEGER),
                                "description": "seconds; null: no basis for an estimate"},
        "url": URL,
    }, description="A Switchboard extension, not in Twilio's TaskRouter"),
    "EstimatedWaitTime": obj({
        "account_sid": SID, "workspace_sid": SID, "task_queue_sid": SID,
        "waiting_tasks": INTEGER, "available_workers": INTEGER,
        "tasks_ahead": {**INTEGER, "description": "the queue's tasks served before a new one"},
        "estimated_wait_time": {**_nullable(INTEGER),
                                "description": "seconds; null: no basis for an estimate"},
        "url": URL,
    }, description="A Switchboard extension, not in Twilio's TaskRouter"),
    "Clock": obj({"now": DATE, "now_ms": {**INTEGER, "description": "epoch milliseconds"}}),
    **INSIGHT,
    "TestAccount": obj({"sid": SID, "friendly_name": STRING, "auth_token": STRING,
                        "status": STRING, "date_created": DATE}),
}

# ---------------------------------------------------------------------- statistics

_DURATION = obj({"avg": INTEGER, "min": INTEGER, "max": INTEGER, "total": INTEGER},
                description="seconds")
_ACTIVITY_COUNTS: Schema = {"type": "array", "items": obj(
    {"friendly_name": STRING, "sid": SID, "workers": INTEGER})}
_SPLIT = _nullable({"type": "object", "description": "Per threshold of SplitByWaitTime "
                    "(seconds); null when not asked for",
                    "additionalProperties": obj({side: obj({
                        "tasks_canceled": INTEGER, "reservations_accepted": INTEGER})
                        for side in ("above", "below")})})
_RESERVATIONS = {f"reservations_{what}": INTEGER for what in (
    "created", "accepted", "rejected", "timed_out", "canceled", "rescinded")}
_WINDOW = {"start_time": DATE, "end_time": DATE}

_TASK_REALTIME = {
    "total_tasks": INTEGER,
    "tasks_by_status": obj({s: INTEGER for s in ("pending", "reserved", "assigned",
                                                 "wrapping")}),
    "tasks_by_priority": {"type": "object", "additionalProperties": INTEGER},
    "longest_task_waiting_age": INTEGER, "longest_task_waiting_sid": _nullable(SID),
}
_WORKERS_REALTIME = {"total_workers": INTEGER, "activity_statistics": _ACTIVITY_COUNTS}
REALTIME = {
    "workspace": {**_TASK_REALTIME, **_WORKERS_REALTIME},
    "queue": {**_TASK_REALTIME, "longest_relative_task_age_in_queue": INTEGER,
              "longest_relative_task_sid_in_queue": _nullable(SID),
              "total_eligible_workers": INTEGER, "total_available_workers": INTEGER,
              "activity_statistics": _ACTIVITY_COUNTS},
    "workflow": _TASK_REALTIME,
    "workers": _WORKERS_REALTIME,
}
_TASK_FLOW = {
    **{f"tasks_{what}": INTEGER for what in ("canceled", "completed", "deleted", "moved")},
    **_RESERVATIONS, "avg_task_acceptance_time": INTEGER,
    "wait_duration_until_accepted": _DURATION, "wait_duration_until_canceled": _DURATION,
    "split_by_wait_time": _SPLIT, **_WINDOW,
}
CUMULATIVE = {
    "workspace": {**_TASK_FLOW, "tasks_created": INTEGER,
                  "tasks_timed_out_in_workflow": INTEGER},
    "queue": {**_TASK_FLOW, "tasks_entered": INTEGER,
              "wait_duration_in_queue_until_accepted": _DURATION},
    "workflow": {**_TASK_FLOW, "tasks_entered": INTEGER,
                 "tasks_timed_out_in_workflow": INTEGER},
    "workers": {**_RESERVATIONS, **_WINDOW, "activity_durations": {"type": "array", "items": obj(
        {"sid": SID, "friendly_name": STRING, "avg": INTEGER, "min": INTEGER,
         "max": INTEGER, "total": INTEGER})}},
}
# The SID each scope's statistics name besides the workspace's.
_SCOPE_SID = {"workspace": {}, "queue": {"task_queue_sid": SID},
              "workflow": {"workflow_sid": SID}, "workers": {}}


def _statistics(scope: str, name: str) -> dict[str, Schema]:
    """``<Name>Statistics``, ``…RealTimeStatistics`` and ``…CumulativeStatistics``."""
    envelope = {"account_sid": SID, "workspace_sid": SID, "url": URL, **_SCOPE_SID[scope]}
    both = {"cumulative": obj(CUMULATIVE[scope])}
    if scope in REALTIME:
        both["realtime"] = obj(REALTIME[scope])
    return {f"{name}Statistics": obj({**envelope, **both}),
            f"{name}RealTimeStatistics": obj({**envelope, **REALTIME[scope]}),
            f"{name}CumulativeStatistics": obj({**envelope, **CUMULATIVE[scope]})}


STATISTICS: dict[str, Schema] = {
    **_statistics("workspace", "Workspace"),
    **_statistics("queue", "TaskQueue"),
    **_statistics("workflow", "Workflow"),
    **_statistics("workers", "Workers"),
    "WorkerStatistics": obj({"account_sid": SID, "workspace_sid": SID, "url": URL,
                             "worker_sid": SID, "cumulative": obj(CUMULATIVE["workers"])}),
    "TaskQueuesStatisticsItem": obj({
        "account_sid": SID, "workspace_sid": SID, "task_queue_sid": SID,
        "cumulative": obj(CUMULATIVE["queue"]), "realtime": obj(REALTIME["queue"])}),
    "TaskQueuesRealTimeStatistics": obj({
        "account_sid": SID, "workspace_sid": SID, "url": URL,
        "task_queue_data": {"type": "array", "items": obj(
            {"task_queue_sid": SID, **REALTIME["queue"]})},
        "task_queue_response_count": INTEGER}),
}

# ---------------------------------------------------------------------- endpoints


def _crud(kind: str, key: str, *operations: str) -> dict[str, Schema]:
    """``list_<x>`` answers a page of ``kind``; the others one ``kind``."""
    return {op: page_of(key, kind) if op.startswith("list_") else ref(kind)
            for op in operations}


RESPONSES: dict[str, Schema] = {
    **_crud("Workspace", "workspaces", "list_workspaces", "create_workspace",
            "fetch_workspace", "update_workspace"),
    **_crud("Activity", "activities", "list_activities", "create_activity", "fetch_activity",
            "update_activity"),
    **_crud("TaskChannel", "channels", "list_task_channels", "create_task_channel",
            "fetch_task_channel", "update_task_channel"),
    **_crud("Worker", "workers", "list_workers", "create_worker", "fetch_worker",
            "update_worker"),
    **_crud("WorkerChannel", "channels", "list_worker_channels", "fetch_worker_channel",
            "update_worker_channel"),
    **_crud("TaskQueue", "task_queues", "list_task_queues", "create_task_queue",
            "fetch_task_queue", "update_task_queue"),
    **_crud("Workflow", "workflows", "list_workflows", "create_workflow", "fetch_workflow",
            "update_workflow"),
    **_crud("Task", "tasks", "list_tasks", "create_task", "fetch_task", "update_task"),
    **_crud("Reservation", "reservations", "list_task_reservations",
            "fetch_task_reservation", "update_task_reservation", "list_worker_reservations",
            "fetch_worker_reservation", "update_worker_reservation"),
    **_crud("Event", "events", "list_events", "fetch_event"),
    **_crud("Key", "keys", "create_key", "fetch_key", "update_key"),
    "list_keys": ref("KeyList"),
    "fetch_queue_position": ref("QueuePosition"),
    "fetch_estimated_wait_time": ref("EstimatedWaitTime"),
    "get_clock": ref("Clock"),
    "create_expression_evaluation": ref("ExpressionEvaluation"),
    "list_timers": ref("Timers"),
    "fetch_task_routing": ref("TaskRouting"),
    "advance_clock": ref("Clock"),
    "create_test_account": ref("TestAccount"),
    "workspace_statistics": ref("WorkspaceStatistics"),
    "workspace_realtime_statistics": ref("WorkspaceRealTimeStatistics"),
    "workspace_cumulative_statistics": ref("WorkspaceCumulativeStatistics"),
    "list_task_queue_statistics": page_of("task_queues_statistics",
                                          "TaskQueuesStatisticsItem"),
    "bulk_task_queue_realtime_statistics": ref("TaskQueuesRealTimeStatistics"),
    "task_queue_statistics": ref("TaskQueueStatistics"),
    "task_queue_realtime_statistics": ref("TaskQueueRealTimeStatistics"),
    "task_queue_cumulative_statistics": ref("TaskQueueCumulativeStatistics"),
    "workers_statistics": ref("WorkersStatistics"),
    "workers_realtime_statistics": ref("WorkersRealTimeStatistics"),
    "workers_cumulative_statistics": ref("WorkersCumulativeStatistics"),
    "worker_statistics": ref("WorkerStatistics"),
    "workflow_statistics": ref("WorkflowStatistics"),
    "workflow_realtime_statistics": ref("WorkflowRealTimeStatistics"),
    "workflow_cumulative_statistics": ref("WorkflowCumulativeStatistics"),
}
COMPONENTS: dict[str, Schema] = {**RESOURCES, **STATISTICS}


def response_schema(operation_id: str) -> Schema:
    """The schema of an operation's 2xx body (a bare object if none is declared yet)."""
    return RESPONSES.get(operation_id, {"type": "object"})
