"""The routing core: everything TaskRouter decides, in plain Python without I/O or a clock.

Where each TaskRouter rule lives
================================

==========================================================================  ===================
rule                                                                        module
==========================================================================  ===================
workspace settings: templates (``NONE``/``FIFO``) and default activities     ``engine``
and channels, ``MultiTaskEnabled`` (no turning it off),
``PrioritizeQueueOrder``, default and timeout activities
the event log: one order per workspace, ``EventCallbackUrl``,                ``events``
``EventsFilter``, each resource's ``event_data``
activities (unique names, fixed availability, none deleted while in use),   ``resources``
task channels (unique names, one worker channel per worker), workers
(unique names, attributes, ``If-Match``, ``RejectPendingReservations``
needs an unavailable activity), worker channels (capacity 0..1000),
task queues (``TargetWorkers`` syntax, ``MaxReservedWorkers`` 1..50,
``TaskOrder``), workflows (``TaskReservationTimeout``, callback URLs),
what may not be deleted while tasks use it
a workflow's ``Configuration``: its shape, limits and references            ``workflow_config``
queue membership by ``TargetWorkers`` (attributes, ``activity_name``,       ``membership``
``worker.channel.*``), and ``EvaluateWorkerAttributes``
filters (first match wins, the default filter, no match cancels), target    ``workflows``
cascades (timeouts add up from entering the filter), ``skip_if``, target
expressions, ``taskrouter.*`` time variables, known-worker routing
(``RoutingTarget``, ``known_worker_sid``, ``known_worker_friendly_name``)
queue order: FIFO by priority then virtual start time, LIFO newest first,    ``queue_order``
``PrioritizeQueueOrder`` between the two; the next task for a free worker
who may take a task: available activity, room on the channel,               ``selection``
single-tasking; who gets it: longest idle first, or ``order_by``, or a
target's ``worker_selection`` (an extension)
(``WorkerSelector`` is the interface other strategies implement)
task states (pending, reserved, assigned, wrapping, completed, canceled)    ``lifecycle``
and reservation states (pending, accepted, rejected, timeout, rescinded,
canceled, wrapping, completed) with their events; ``MaxReservedWorkers``
(the first accept wins, the others are rescinded); reservation and
assignment activities; ``TimeoutActivitySid``; task TTL, reservation
timeout, step timeout, five-minute purge, 24-hour assigned limit,
maximum assignments
task transfers (the Worker SDK's ``task.transfer``): who may transfer,      ``transfers``
to a worker or a queue, ``WARM``/``COLD``, initiated -> complete, failed
or canceled, failed attempts, the ``task.transfer-*`` events
deadlines as data, fired in deadline order                                  ``timers``
rebuilding a workspace from its stored rows (restart, failover)             ``loading``
the expression language                                                     ``expressions``
attributes (4,096 characters, JSON nesting), names, URLs, ranges            ``validate``
==========================================================================  ===================

Modules and their dependencies
==============================

Each module imports only modules below it in this list, never one above
(``tests/unit/test_import_cycles.py`` fails on a cycle or on an import up the list). The engine
calls the parts in order; no part calls back into it: a part is given what it needs (the
collections it reads, the event log, the change recorder) when it is made.

``evaluation``
    an expression tried on a workspace's workers or tasks (an extension)
``agenda``
    the live timers, in the order they fire (an extension)
``explain``
    why a task went where it did: its path through its workflow and the choice of its worker
    (an extension)
``engine``
    the workspace aggregate: the workspace, its event log and change recorder, the parts, and
    every command entry point, each calling the parts in order
``estimates``
    wait-time estimates, simulated forward from the live indexes (an extension)
``loading``
    rebuilding every part from stored rows
``lifecycle``
    tasks and reservations: state machines, events, offers, timers when due; carries out
    transfers
``transfers``
    the transfers of tasks: their records, rules and events
``queue_order``
    waiting tasks per queue and channel
``selection``
    eligibility, the ``WorkerSelector`` interface and ``LongestIdle``
``workflows``
    workflow evaluation, pure
``membership``
    queue membership
``resources``
    configuration resources: collections, lookups, validation, their own events
``events``
    the event log and ``event_data``
``changes``
    rows and events of a command
``timers``
    the deadline heap
``views``
    workers as expressions see them
``model``
    the entities
``history``
    recent reservations: accepts per worker over 24 hours, handle times per queue
``workflow_config``
    workflow configuration parsing
``expressions``
    the expression language
``validate``
    shared input checks
``sids``
    SIDs
``errors``
    domain errors with Twilio's error codes
"""
