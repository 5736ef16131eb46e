"""Task creation over HTTP against a real server with durable SQLite commits.

Starts ``switchboard serve`` (SQLite in a temporary directory, ``synchronous=FULL``, log level
``warning``: the access log writes nothing) and, beside it, ``bare_form_app.py``: a bare Starlette
endpoint that parses the same form and answers a small JSON, served the same way (same uvicorn
protocol class, limits and options). Then, in alternating rounds (bare, pending, routed, then
the same in reverse order, …), each on a fresh workspace:

* bare: the yardstick, what the framework and the HTTP server cost alone;
* pending: tasks created in a workspace with no workers (they stay pending);
* routed: tasks created in a workspace whose 20 workers always have room (each is reserved in
  the same command and committed before the answer);

each measured as requests per second from C concurrent keep-alive clients (aiohttp, closed
loop) and as the server process's CPU per request (user + system time of all its threads, from
``/proc/<pid>/stat``) beside the load generator's own (it shares the two cores: what it spends
on an answer is not left to the server). Each round also shows how busy the event loop and the
other threads (the store's writer) kept a core, and how idle the machine was: whether the rate
is bound by the server's CPU or by waiting. Medians over the rounds, and the ratios to the bare
endpoint (the median of each round's ratio: the machine's noise moves a round's measurements
alike). ``--src`` runs other source trees' servers in the same rounds, e.g. the tree before a
change. Last, latency at a fixed arrival rate (open loop): the time from sending a routed
create request to its answer, i.e. "task created -> reservation committed".

    python benchmarks/http_tasks.py [--rounds 9] [--tasks 3000] [--concurrency 32]
        [--rate 500] [--seconds 10] [--src PATH ...]   # PATH: git archive <commit> src | tar -x

Targets: routed creation ≥ 0.35x the bare endpoint's rate, pending ≥ 0.5x.

Figures: a 2-core VM (Intel Xeon, Linux 6.18), Python 3.11.7, shared with about seven other
people's work (load average 4 to 11 during these runs: rates swing 3x between rounds; the CPU
per request and the ratios hold much better). Before the changes, one run at load ~1.6:

    bare 5,558/s 74 µs CPU/request; pending 1,901/s 364 µs (0.32x); routed 1,535/s 444 µs (0.28x)

Before and after side by side in one run (``--src`` the tree before, load ~7), 9 rounds of
3,000:

                       rate/s  µs CPU/req  x bare rate  x bare CPU
    bare                3,755          80         1.00        1.00
    after  pending      1,372         297         0.40        3.75
    after  routed       1,261         377         0.35        4.65
    before pending      1,317         430         0.35        5.30
    before routed         900         540         0.24        6.77

Two more such runs (load ~5, then ~8; the second with the store's cheaper hand-off): bare
4,825/s 77 µs and 3,043/s 80 µs; after pending 0.38x (287 µs) and 0.42x (277 µs), routed
0.32x (370 µs) and 0.32x (367 µs); before pending 0.26x (427 µs) and 0.29x (397 µs), routed
0.26x (500 µs) and 0.27x (503 µs). So routed creation reaches its target in one run of three
and misses it by a tenth in the others (0.32-0.35x of 0.35x); pending misses its own by a
sixth to a quarter (0.38-0.42x of 0.5x). Server CPU per request fell by 30-33 % (pending) and
26-30 % (routed). The bare endpoint is held back by the load generator sharing
the two cores (its server uses ~0.4 of a core at 5,500/s), so the rate ratios understate what
the CPU ratios say. Latency at 500 tasks/s is the machine's noise at this load (p50 8-30 ms,
p99 27-430 ms after; p50 8-340 ms, p99 48-2,500 ms before; alternating in one run); on a quiet
machine it was p50 1.2 ms, p99 3.5 ms.

Where a request's CPU goes, from sampling the server under this load (py-spy, samples holding
the GIL, per thread; the event loop's µs per request split by where its time was spent, a
frame's callees included; garbage collection counts where it struck). The event loop thread:

                                                  pending          routed
                                               before  after   before  after
    uvicorn: HTTP parsing, writing the answer      56     51       67     40
    Starlette: error/exception middleware,         52     32       69     22
      router, Request objects
    our middleware: Twilio headers (request ID),   42     20       23     17
      access log, auth brake, body limit
    authentication, form and parameter parsing     25     23       24     25
    the command in routing/ (events included)      57     44       86     69
    runtime and hand-off to the store writer       23     15       30     17
    rendering the task                             10      8       12     11
    statistics listener, event loop                10      9       11     17
    event loop thread in all                      276    203      322    218
    store writer thread                           124     98      185    136

(py-spy itself costs a little: these totals are above the benchmark's.) The store writer's
share, per pending task (four events and one task row): ~30 µs inserting the event rows
(SQLite, their three indexes), ~6 µs the task row, ~8 µs the events' values and JSON, ~10 µs
the statistics rollups, ~25 µs the transaction and its fsync shared by a batch of ~16.

What was cut: Twilio-Request-Id made with os.urandom, a syscall that let go of the GIL on every
request, which the store's writer thread then held (the event loop stalled for it: the largest
single cost, counted above under our middleware and spread as waiting everywhere); the cyclic
garbage collector, 25 to 70 µs a request (young collections every 700 allocations, full ones
over every loaded task), now a few µs (start-up's objects frozen, thresholds 20,000/20/20);
Starlette's per-request wrapper around each endpoint (a second exception-handling layer, a
Response built per answer); the rows of a command's changes snapshotted as dicts and turned
back into tuples on the writer (now one attrgetter tuple per row); SIDs and dates formatted
faster. Left as they are: the events' contents (TaskRouter's), durability (each answer waits for
its commit, ``synchronous=FULL``, group commit as before), and every header and log line.

A second pass measured the tree above again and tried the store writer first. At a quieter
moment (load 0.6 to 3), 9 rounds of 3,000, two runs with the order of the trees swapped:

                       rate/s  µs CPU/req  x bare rate  x bare CPU
    bare          6,516 / 4,700    77 / 80         1.00        1.00
    pending       2,183 / 2,019   303 / 297  0.37 / 0.43  3.87 / 3.67
    routed        1,946 / 1,740   380 / 370  0.35 / 0.37  4.83 / 4.54

and at load ~9 (7 rounds): bare 4,511/s 83 µs, pending 0.39x (307 µs), routed 0.30x (393 µs).
So routed creation meets its target when the machine is not saturated (0.35-0.37x) and misses
it under heavy load (0.30x); pending does not meet its own (0.37-0.43x of 0.5x). Server CPU per
request is the steadier figure: bare 77-83 µs, pending 297-307 µs, routed 370-393 µs.

Measured in process (the app driven through ASGI by 32 callers, thread CPU per pending task):
the event loop 165-190 µs, the store writer 80-90 µs, of which SQLite inserting the four event
rows (their table and three indexes) 29-34 µs, the task row 6 µs, the events' values and JSON
8-10 µs, the rollups ~10 µs, the transaction, its commit and resolving the waiters the
remaining 25-30 µs (about 16 commands per batch).

Tried and not kept (no gain beyond the noise, side by side with ``--src``): the writer's rows
through the driver's own cursor instead of ``exec_driver_sql``, SQLite statements of many rows
(1, 2, 4, … per statement: its driver lets go of the GIL once per row stepped, so an
executemany hands the GIL back and forth once per row), and no merge for a batch holding one
command's changes: pending 290 µs against 297 µs and 307 µs against 303 µs in the two runs
above, routed 367 against 370 and 380 against 380; the SQLite insert itself did not move
(29-33 µs against 32-34 µs for the event rows). A larger SQLite page cache (32 MB) or
memory-mapped reads (256 MB) left the writer's CPU as it was (the insert is CPU in SQLite's
B-trees, not reads), and would have counted against the memory target. What is left is spread
thin over the parts of the table above, none of them above 70 µs: to reach 0.5x, pending would
need about a fifth of its CPU gone (~60 µs of ~300), more than any one part but uvicorn's HTTP
handling (which the bare endpoint pays too) and the store writer's SQLite work.

A third pass (issue 14) profiled again, per thread, and counted instructions to see changes of
a few per cent through the noise: ``valgrind --tool=callgrind`` on the app driven in process
(as above), the difference between runs of 100 and 400 creations divided by 300 (its own noise
about 1 %). Kept: the API's routes are tried before /healthz, /readyz and the documentation
(Starlette matches routes in turn: a creation was tried against five paths first), the form's
parameters are grouped in one pass (one ``getlist`` scan per declared parameter cost 6.3 µs a
creation, now 2.8 µs), the failed-authentication brake's SID pattern is compiled once, and a
task event looks its channel up once. Instructions per creation, both threads, before and after
side by side: pending 1.27M-1.30M before (three runs), 1.24M after (-3.0 % against the run
beside it), routed 1.75M before, 1.69M after (-3.6 %). Over HTTP the machine was saturated
(load 8 to 9, the bare endpoint's CPU per request 123-133 µs instead of 77-83), 9 rounds of
3,000, two runs with the trees' order swapped:

                       rate/s         µs CPU/req   x bare rate   x bare CPU
    bare          2,238 / 2,552      123 / 133      1.00          1.00
    after  pending  935 / 1,083      463 / 477      0.46 / 0.40   3.76 / 3.58
    after  routed   651 / 875        587 / 593      0.33 / 0.33   4.76 / 4.49
    before pending  799 / 1,037      490 / 480      0.37 / 0.41   3.95 / 3.68
    before routed   762 / 842        597 / 597      0.34 / 0.34   4.84 / 4.47

A 3 % cut is about this noise: the server's CPU per request is lower in both runs (by 0.6 to
5.5 %), but the rate ratios disagree on the sign. Neither target is met at this load (pending
0.40-0.46x of 0.5x, routed 0.33x of 0.35x); at a quieter moment the earlier figures above
hold, less about 3 %.

Where the event loop's time goes now, sampled in process (py-spy, the app's share of that
thread = 100 %; uvicorn's HTTP parsing and writing come on top, about a fifth of the thread
in the served profile): Starlette's and our middleware and routing 23 % (route matching 5 %,
the send wrappers 5 %), the command 25 % (of it the four task events 12 %, their ``emit`` 7 %),
the commit and its listeners 12 % (the hand-off to the store 5 %, statistics 4 %), reading and
parsing the form 12 %, authentication 5 %, rendering and sending the task 3 %, timers 2 %. In
the served profile, uvicorn writing a response's head is the largest single piece (6.6 µs an
answer measured alone: a regular expression on each of the eleven header names and values).

Tried and not kept in this pass: one write per answer (the head held back until the body, in
a cycle class of our own): uvloop already sends what a loop iteration wrote in one system call,
so nothing moved (490 against 497 µs); reading the body straight from ``receive`` instead of
Starlette's ``Request.body()`` (2.2 µs less) broke handlers that read the body again (bulk
statistics with a JSON body waited forever for it); Twilio's constant headers made once
(0.07 µs); decoding the Basic credentials once for the brake and the endpoint through a cache
(1.2 µs, not worth keeping secrets in a cache); validating uvicorn's response head ourselves
(about 4 µs) would mean a copy of uvicorn's ``send``. The store writer was not touched (it was
being changed for the statistics at the same time).

A fourth pass took the store writer alone, counted the same way with callgrind's threads
apart (``--separate-threads=yes``: the writer is the second thread). Before it, a pending
creation cost 1.23M instructions, 477k of them on the writer; a routed one 1.69M, 798k. Of a
pending creation's writer instructions, a quarter (115k) was Python's sqlite3 adapting the
~36 parameters that are None or a bool: for each, with no adapter registered, it raised and
cleared an AttributeError (``PrepareProtocol`` has no ``__adapt__``), ~2,000 instructions
apiece. Kept: adapters for both, registered by the store (None's an empty dict's ``get``, a C
function; a bool as ``int``), binding exactly what was bound before (a test checks it).
After: pending 1.16M (-5.3 %), the writer 400k (-16 %); routed 1.61M (-4.7 %), the writer
704k (-12 %); the event loop thread's count moves by 1-2 % between runs of the same tree. With
a Python function as None's adapter the writer took 9k more (409k). The writer's
400k now: ~245k in sqlite3's ``executemany`` (SQLite stepping the rows 144k, binding and
copying the text 60k, the adapters' remaining lookups 42k), 17k the commit, 26k orjson, and
~110k of Python spread thin (the rollups about a third, the events' values, SQLAlchemy's
per-statement work, merging the batch, the listeners); SQLite's own mutexes (its serialized
threading mode and malloc accounting, not adjustable from Python) are ~25k of it. Tried and
not kept: the rows through the driver's own cursor again (404k against 400k). Not tried: the
rollups' arithmetic (a minute-first pre-sum would save ~3k a creation, 0.3 %, for more code).

After these passes, over HTTP on a quiet machine, 9 rounds of 3,000 beside the tree before the
third pass (``--src``):

                       rate/s  µs CPU/req  x bare rate  x bare CPU
    bare                7,221          97         1.00        1.00
    after  pending      2,640         337         0.38        3.52
    after  routed       2,128         410         0.31        4.38
    before pending      2,468         357         0.36        3.73
    before routed       2,057         440         0.29        4.71

Server CPU per request 6-7 % lower, the ratios up by 0.02; neither target met (the bare
endpoint ran faster than in the runs above, its load generator having the other core).

A fifth pass asked what bounds the rate, on a 2-core AMD EPYC VM (Linux 6.18, the machine
otherwise quiet), by each thread's CPU from ``/proc`` during pending creations at 32 clients.
The server is not short of CPU: its event loop is 60-67 % busy, the store writer 25-30 %, the
load generator 50-55 %, the machine a quarter idle. The rate is the round trip through the
durable commit: a batch of 11-13 creations takes the writer 4.5-6 ms (its CPU 1.6 ms: SQLite
and Python 1.1 ms, the commit 0.5 ms; the fsync 1-1.5 ms; the rest waiting), and 32
closed-loop clients then wait about 17 ms a request. Most of the waiting is in inserting the
events: 2.8-3.8 ms of wall for 0.6-0.9 ms of the thread's CPU, as one multi-row statement as
much as one step per row, so it is the thread waiting for the GIL or for a core (the event
loop and the load generator hold both), not a cost per row. Trials in trees beside this one
(medians of alternating runs, rates in /s):

* the writes skipped altogether (each batch answered at once, nothing stored; not durable,
  the bound): 3,500-5,400 against 1,700-2,100, the event loop 90-96 % busy;
* the database on tmpfs: about 2,300 against 1,800 (the fsync is a part, not the whole);
* the writer in a process of its own (the batch's changes pickled to it, the answer read by
  the writer thread, or by the event loop itself with no writer thread): no GIL to share
  (the writer thread 9 % busy, or none), but the round trip stayed 4.9-5.9 ms (the child's
  SQLite work 1.0 ms and commit 1.9 ms, the rest pickling, the pipe and waiting for the
  event loop's turn): 1,610-1,770 against 1,740-1,910 through the writer thread, 1,320-1,540
  against 1,120-1,500 from the event loop (a busier hour); in this benchmark, 5 rounds, the
  latter 0.28x against 0.34x (pending) and 0.25x against 0.25x (routed): the child's CPU
  competes with the load generator for the two cores. Loaded by wrk (below) it does free the
  event loop (91-92 % busy, the rate 2,240-2,710 against 1,750-2,160), but not the ratio;
* multi-row INSERT statements (one SQLite step per table and batch, not one per row): the
  writer's batch no shorter (3-4 ms of work at the median either way), 0.38x against 0.40x;
* ``sys.setswitchinterval`` 0.5 ms or 0.1 ms instead of 5 ms: smaller batches, no faster
  (0.1 ms: 1,300-1,500 against 1,450-1,850);
* no WAL checkpoints in the writer's commits (``wal_autocheckpoint=0``, the WAL left to
  grow: the bound of moving them elsewhere), 5 rounds: pending 0.32x against 0.33x, routed
  0.32x against 0.29x, within this benchmark's noise;
* the routing core's busiest modules compiled with mypyc (lifecycle, events, changes,
  selection and nine more; not ``model.py``, ``resources.py`` or ``engine.py``, whose
  dataclass class variables and keyword sentinels its runtime type checks refuse): 11 %
  fewer instructions per assignment in ``engine_instructions.py``, about 3 % of a creation;
  not pursued.

Loaded with wrk (C, 32 connections, one thread) instead of aiohttp, the bare endpoint rises
to 6,500-7,500/s while creations stay at 1,600-1,850 (pending) and 1,300-1,500 (routed): the
ratios fall to 0.25x and 0.2x, for aiohttp held the bare endpoint back, not the server.
A shorter commit round trip for the same durability looked like what would move these
targets, e.g. a writer process fed without the pickling and scheduling costs measured above
(the sixth pass below tried it). Runs of this benchmark that day: 5 rounds, bare 4,437/s
(143 µs of CPU a request), pending 0.42x (510 µs), routed 0.29x (700 µs); 9 rounds, bare
5,424/s (140 µs), pending 0.34x (507 µs), routed 0.26x (637 µs).
With each round's shares printed (5 rounds, pending 0.35x, routed 0.29x): the bare endpoint's
event loop 53-71 % busy, the machine 14-22 % idle (its load generator is the limit);
pending, the event loop 61-70 %, the writer 26-28 %, the machine 24-28 % idle; routed 58-61 %,
31-34 %, 29-31 %.

A sixth pass (the same AMD EPYC VM, another day) measured the noise first and then the three
ways of writing that the fifth left open, each in a tree beside the unchanged one (``--src``),
5-7 rounds.

Noise: a run that, by a mistaken ``--src`` path, served the same code in two slots gave
pending 0.29x and 0.35x, routed 0.25x and 0.24x. A 5-round median moves by up to 0.06 between
identical servers, so smaller differences are not findings. The unchanged tree's medians in
four runs that day: pending 0.35-0.47x, routed 0.27-0.40x (bare 4,600-5,900/s); routed met its
target in the quietest run (0.40x and, in the other slot, 0.37x), pending came within 0.03.

Where the machine goes (the quietest run, 7 rounds): the bare endpoint leaves the machine
14-19 % idle, its load generator being the limit; pending 25-28 % and routed 30-32 %, with the
event loop 59-66 % and the writer 25-38 % busy, taking turns on the GIL. The load generator
spends more on a task's answer (about 250 µs of the machine a request, against 180 µs for the
bare's small one). The rate ratio is then about the ratio of the whole machine's CPU per
request, server and load generator together (~280 µs bare, ~570 µs pending), scaled by how
busy each keeps the machine: 0.5x needs less server CPU and fewer stalls, not one of them.

Tried and not kept:

* The fsync off the writer's path: the writer's connection commits with
  ``synchronous=NORMAL`` and a syncer thread fsyncs the log (one fsync for every batch
  committed before it) before acknowledging anything, while the writer writes the next batch.
  Durability is as before (nothing acknowledged before its fsync). Against the unchanged tree
  in the same runs: pending 0.41x/0.41x and 0.39x/0.40x, routed 0.31x/0.33x and 0.32x/0.33x.
  The fsync was not what held the round trip.
* The batch written by the event loop itself (no writer thread, so no turns on the GIL), the
  fsync on a pool thread while the next batch gathers: pending 0.45x against 0.41x, routed
  0.30x against 0.33x. The loop is then 85-89 % busy, and SQLite's stepping no longer overlaps
  it.
* A writer process fed by the event loop: each batch's statements and value tuples (no objects)
  marshalled down a pipe, every batch waiting written in one transaction, committed without an
  fsync and fsynced by a thread of the child's, acknowledged by batch number on a pipe the loop
  watches. The server process's CPU per request fell by a quarter (pending 237 against 317 µs,
  routed 313 against 410 µs, the child's own not counted), but the rate did not follow: pending
  0.40x/0.40x and 0.47x/0.47x, routed 0.38x/0.33x and 0.39x/0.40x in two runs. The child takes
  its CPU from the same two cores, and the event loop, 63-77 % busy, waits on round trips.

A seventh pass (the same AMD EPYC VM, another day) counted instructions of the whole served
path with ``http_instructions.py`` (new: each server under callgrind, threads apart, kernel time
not counted; its counts move by about 2 % between runs, for group commit's batches follow the
timing). Thousands of instructions per request: the bare endpoint 389-392; a pending
creation 1,345-1,359 (event loop 888-890, store writer 443-455), 3.4-3.5x the bare; a routed
one 1,822-1,841 (1,029-1,030 and 780-798), 4.7x. Of the writer's, sqlite3's ``executemany``
is 55 % (SQLite stepping the rows a third, binding the values a seventh, adapting the ~29 None
and bool values a task's rows hold a tenth: the lookup key is built anew for each), Python
the rest. Of the event loop's (py-spy at 4 clients, where a sample holding the GIL is one on a
core): the command 24 % (its four events 10 %), the middleware and routing before the endpoint
16 %, uvicorn writing the answer 16 % and parsing the request 11 %, the form 9 %, handing the
changes to the store 6 %, uvicorn's keep-alive timer re-armed after each answer 5 %, rendering
3 %. Under 32 clients the
event loop holds the GIL for ~420 µs a request but runs for ~300: for the rest it holds the GIL
while waiting for a core (the load generator and the writer's SQLite work are the other two
runnable threads on two cores), and the writer's Python waits with it.

Kept:

* One write per answer (``connection_limits.py``): uvicorn writes a response's head and its
  body apart, and uvloop sends each at once: two system calls and two TCP segments an answer
  (strace: 2,000 writes for 1,000 answers; now 1,000). Server CPU per request at 8 clients
  (``/proc/<pid>/task/*/schedstat``, trees alternated, medians of 8-9 rounds): bare 119 against
  125 µs, pending 473 against 493 µs.
* The authentication brake reads a request's credentials only while some address is failing,
  and observes answers through ``ObserveRequests`` (no send wrapper of its own): 9k
  (pending) to 14k (routed) instructions fewer on the event loop.
* This benchmark alternates the order of its servers every other round: a slot's place had
  moved its median ratio by up to 0.06. With the order alternated, the same code in three
  slots of one run gave 0.39x, 0.40x and 0.40x (pending).

Tried and not kept:

* WAL checkpoints on a thread of their own (the writer's connection with
  ``wal_autocheckpoint=0``; a PASSIVE checkpoint after commits, at most every 0.5 s), meant to
  take the 25-50 ms commits that carry a checkpoint off the answers' path. Under steady load a
  checkpoint beside the writer never caught up with it, so SQLite never started the log over:
  820 MB of WAL after 45 s, and latency at 500 tasks/s no better (p99 14-27 ms against 5-13 ms).
  Smaller checkpoints in the writer (``wal_autocheckpoint=100``) raised p50 (2.8-5.5 against
  2.0-3.8 ms) and left p99 as it was, and with no checkpoints at all (the bound) p99 was no
  better either: checkpoints are not what sets this machine's p99.
* ``orjson`` for the attributes' JSON (5x faster than ``json``): it turns integers beyond 64
  bits into floats without a word, where ``json`` keeps them exact.

Unchanged tree, that day: 5 rounds, bare 5,734/s (113 µs), pending 0.36x (447 µs), routed
0.28x (560 µs); 9 rounds beside this pass's tree, bare 6,173/s (123 µs): pending 0.28x (457 µs)
and routed 0.25x (637 µs), this pass's tree 0.30x (490 µs) and 0.25x (583 µs). The rates are
as far from the targets as before. What is left, in numbers: the rate ratio follows the whole
machine's CPU per request (server and load generator: ~115 + ~180 µs a bare answer, ~450 +
~250 µs a pending one) and how busy each keeps the machine (85 % against 72 %). Pending at 0.5x
would need the server's CPU near 300 µs a creation, about 2.5x the bare's rather than 3.6-3.8x:
some 350k fewer instructions a creation, a quarter of them. That is more than the middleware,
routing, form, hand-off and rendering together (about 300k), or four fifths of the writer
thread; no part above is that large.

An eighth pass (the same AMD EPYC VM, another day) followed one request through the server and
the store's writer through its batches, in a tree with timestamps added (pending creations, 32
clients, 6,000 requests, several runs at 2,000-2,200/s). A request spends about 11 ms in the
server: 0.7-0.9 ms before its endpoint runs, 0.13 ms in its command, 10 ms waiting for its
commit, 0.05 ms answering. The writer is busy 84-93 % of the time (batches of about 13): its
statements take 2.8-3.5 ms for 1.1 ms of its CPU, the commit 0.7-1.0 ms (0.4 ms of CPU, the
rest ``fdatasync``). Its time off a core (bpftrace on ``sched_switch``, a 3 s run): 1.68 s
waiting on futexes (the GIL), 0.49 s in ``fdatasync``, being preempted next to nothing. The
waiting falls on each batch's first statement, the events' insert (0.86 s of wall for 0.27 s
of CPU over the run; the task rows that follow it 0.06 s for 0.05 s): the writer starts its
batch while the event loop works through the burst of requests the last commit set free, and
wins the GIL back from it only when the burst ends. Sampling which thread holds the GIL
(py-spy ``--gil``): it is held 64 % of the time under pending creations, 34 % under the bare
endpoint.

Tried and not kept, side by side with the unchanged tree: the writer's thread at nice 5
(pending 0.32x against 0.32x, routed 0.26x against 0.26x); the events as one multi-row
statement (its wall time did not move: the waits are not one per row); that with a switch
interval of 0.1 ms, so the writer forces the GIL over sooner (its statements shorter, but the
server's CPU per request up 10-15 % in switches: 0.34x against 0.37x pending); the loop
handing a burst's changes to the writer only once the burst has run (``call_soon``), so that
the writer starts with the GIL free (pending 0.31x against 0.33x, routed 0.24x against 0.27x);
the writer's thread under ``SCHED_BATCH``, so that a commit waking it does not preempt the
loop (0.36x against 0.34x, 0.25x against 0.27x). Counted with callgrind, two parts were smaller
or larger than sampling said: uvicorn's keep-alive timer is 5k instructions a request (0.6 %,
not the 5 % above), while uvicorn's checks of the response headers' names and values (a
regular expression over each byte) are 31k a task's answer with its twelve headers (2 %),
against 3k for the bare endpoint's few.

Found and mended: the seventh pass's one write per answer held each request's uvicorn cycle
from the object the cycle writes through, which the cycle holds in turn: every request left a
cycle of references (the cycle, its event, the scope's headers: some twenty objects) for the
garbage collector to find. Over 110,000 requests of ``memory_history.py``'s task cycles that
was 56 young and 28 middle collections (1.3 s of pauses); with the holder letting go of the
cycle once it has the head, one young collection, and no cyclic garbage left in a census of
every collected object (task cycles, routed creations, 400s and 404s, lists, statistics). The
server's CPU per request hardly moves (8k fewer instructions, 1 %); ``gc_pauses.py`` (20,000
tasks waiting, beside the tree before): while filling, 6 young collections (38 ms) and 3
middle ones (68 ms) against 18 (206 ms) and 8 (147 ms); latency p99 8.5 ms against 15.5 ms.
It had broken the memory target too: ``memory_history.py``, 200,000 task cycles, +37.3 MB
against +10.2 MB mended (target 30 MB).

This benchmark now prints the load generator's CPU per request too. One run, 5 rounds: bare
6,406/s, 123 µs of the server's CPU and 146 µs of the load generator's a request; pending
0.33x, 403 + 226 µs; routed 0.29x, 523 + 246 µs. Later, quieter, 9 rounds with the cycle
mended: bare 8,309/s, 90 + 119 µs; pending 0.36x, 303 + 177 µs; routed 0.27x, 433 + 192 µs;
latency at 500 tasks/s p50 1.8 ms, p99 5.6 ms. The bare endpoint keeps the machine about 90 %
busy, creations 68-75 %. At a given share of two cores, the rate follows the whole machine's
CPU per request: pending at 0.5x would need the server near 340 µs a creation (a sixth less)
with the machine as busy as the bare keeps it, or near 225 µs (nearly half) at today's idle
share; routed at 0.35x needs today's CPU with the machine kept busy, or the server near 380 µs
(a quarter less) as it is. The idle share is the convoy above: the loop and the writer take
turns on the GIL instead of overlapping, and with today's CPU the GIL alone (the loop's ~300 µs
and the writer's ~50 µs of Python a creation) caps pending creations near 2,900/s, 0.45x the
bare endpoint's rate in the first of those runs.

A ninth pass (the same AMD EPYC VM, another day) counted the event loop's instructions per
pending creation with the app driven in process (32 callers, callgrind, 1,200 less 200
creations; the served path adds uvicorn's ~185k), and cut where the count fell, each cut kept
only when it did:

* Starlette's two error middlewares and our body limit, three ASGI layers each wrapping
  every answer's ``send``, are one layer (``api/failures.py``): 690k to 670k;
* the failed-authentication brake is no layer of its own (``ObserveRequests`` holds a
  request while some address is failing): 2.6k;
* the form is parsed by ``params.form_items`` instead of ``parse_qsl`` and a multidict (the
  same pairs: a hypothesis test holds it to ``parse_qsl``): 23k;
* events are made without a dictionary of keyword SIDs, then positionally (an Event made by
  keyword took 1.3 µs, positionally 0.5 µs), the workspace lookup formats its message only to
  raise it, a command waits for a rebuild only while there is one: about 60k;
* the events' ``actor_type`` and ``actor_sid``, never set, are gone from the model and the
  rows (two None values an event for sqlite3 to adapt): 17k of the writer's;
* the body is read straight from ``receive`` (``ApiRequest``), not through an async
  generator under ``aclosing``, and the console feed looks at nothing with no page open: 22k.

In all 697k to 557k on the event loop (-20 %), the writer 401k to 379k. Served
(``http_instructions.py``, 600 requests apart, beside the tree before): pending 1,206k (loop
746k, writer 453k) against 1,353k (884k, 459k), 3.0x the bare endpoint's instructions rather
than 3.4x; routed 1,663k (869k, 784k) against 1,854k (1,027k, 809k).

Over HTTP, 9 rounds beside the tree before (``--src``), three runs: pending 0.38x against
0.38x, 0.38x against 0.34x, 0.41x against 0.38x; routed 0.34x against 0.30x, 0.29x against
0.25x, 0.31x against 0.30x; the server's CPU a request 6-10 % lower (pending 257-317 against
273-353 µs) and 11-17 % (routed 317-400 against 360-480 µs); rates up 6-19 %. The quietest
run, 7 rounds (bare 8,040/s): pending 0.46x, routed 0.36x.

The rate is bound by the round trip through the store's writer more than by CPU. With
``--metrics-port`` (the commit histograms), 6,000 creations at 32 clients: the writer is busy
86-96 % of the time in batches of 13-15 creations, 4.3-4.5 ms a batch (pending) and 6.4-6.7 ms
(routed), about a third of which is its CPU, the rest the ``fdatasync`` and waiting for the
GIL; the event loop is 54-58 % busy and the machine 27-30 % idle, as before the cuts (the
eighth pass's convoy). Less CPU on the loop shortens its bursts, so the writer waits less, but
the cycle stays about 4.5 ms for some 14 creations.

Tried and not kept:

* Leaving a row's None values out of its statement (rows grouped by which values are None,
  one statement each): sqlite3 adapts no None then, but the grouping (a ``map`` over every
  value of every row, an ``itemgetter`` a row) and the extra statements cost more: the writer
  395-400k against 374k.
* An upsert that leaves the columns fixed at creation (SID, account, workspace, date) out of
  its ``DO UPDATE``, so that SQLite need not touch the workspace index of an updated row: the
  routed writer 629k against 626k.
* Multi-row INSERT statements for every table (chunks of 1, 2, 4 … rows) with a 0.2 ms GIL
  switch interval, so that a batch hands the GIL over a few times only and the writer gets
  it back within 0.2 ms: pending 0.34x against 0.44x, routed 0.25x against 0.34x (5 rounds);
  the multi-row statements alone 0.38x and 0.31x.
* A 1 ms switch interval alone: pending 0.47x against 0.46x, routed 0.37x against 0.36x
  (7 rounds); again, 11 rounds: 0.42x against 0.42x, 0.31x against 0.33x. Within the noise.

A tenth pass (the same AMD EPYC VM, another day) asked what the store costs the rate, with
trial trees that each left a part of it out (5 rounds each, beside the unchanged tree):

* no store at all (a command's commit resolved at once): pending 0.70x and 0.89x, routed
  0.75x and 0.76x in two runs, the event loop 91-96 % busy, the machine 2-10 % idle;
* the writer thread woken and answering every batch at once, writing nothing: pending
  0.85x, routed 0.74x. The hand-off itself costs little; the writer's work does;
* ``synchronous=OFF``: pending 0.37x against 0.34x, routed 0.35x against 0.29x (a noisy
  run): the disk is not what bounds the rate (``fdatasync`` here: p50 0.2 ms);
* the SQLite statements run by a child process, sent over a pipe by the writer thread (so
  that no row is bound under our GIL): pending 0.42x against 0.44x. No gain;
* the statements run by the event loop, the COMMIT by the writer thread: 0.48x against
  0.45x; with a 0.5 ms switch interval 0.45x against 0.44x. Timestamps showed why: the
  writer took 0.67 ms (median; mean 1.1 ms) to pick up a commit the loop queued, waiting
  for the GIL and for a core (the loop and the load generator hold both), then as long
  again to hand it back;
* the statements and the COMMIT run by the event loop: pending 0.57x against 0.44x, routed
  0.39x against 0.36x. Kept (``store/loop_commits.py``).

The loop's commit blocks it for the commit's writes and its ``fdatasync`` (the GIL released),
a fraction of a millisecond here, once a turn; every other write (accounts, retention,
callback cursors, PostgreSQL's commits) stays on the writer thread, one transaction at a time
under a lock the loop never waits for (it commits once the writer lets go), and WAL
checkpoints move to the writer thread (the loop's connection has none of its own).
Measured with the commit histograms: batches of 10 creations, 1.15 ms a commit, 35 % of the
loop's time; the loop 85-90 % busy, so the rate follows its CPU now. Then:

* a thread that ``fdatasync``s the WAL after the loop's commit (its connection at
  ``synchronous=NORMAL``), answering once synced: 0.45x against 0.50x, the server's CPU a
  request 50 µs higher (the thread's GIL hand-offs). Not kept;
* the sync done by a helper process over a pipe (no thread, no GIL): 0.50x against 0.49x.
  Not kept: the wait it saves is not what bounds the loop;
* pages of 8 and 16 KB instead of 4 (fewer write calls, more bytes): 0.49x for all three;
* the commit waiting 1, 2, 3 or 4 turns of the loop for the commands of requests already
  read: batches of 14.5 (1 turn) and 17 (2) creations instead of 10; pending 0.54x, 0.57x
  against 0.52x (7 rounds), 0.56x, 0.56x, 0.52x for 2, 3, 4 turns (5 rounds). Two kept.

Side by side with the tree before the pass, 9 rounds (bare 8,260/s, 80 + 119 µs a request):
pending 4,377/s, 0.53x (rounds 0.43-0.65x; server CPU 217 µs a request) against 3,383/s,
0.41x (253 µs); routed 3,330/s, 0.40x (rounds 0.35-0.48x; 280 µs) against 2,557/s, 0.31x
(340 µs). Both targets met. Latency at 500 tasks/s: p50 1.3 ms, p99 5.4 ms. A second run
(bare 7,844/s): pending 0.54x (rounds 0.46-0.63x; 227 µs) against 0.42x (260 µs), routed
0.43x (0.40-0.48x; 283 µs) against 0.33x (347 µs); latency p50 1.3 ms, p99 4.1 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from common import machine

ACCOUNT = "AC" + "b" * 32
TOKEN = "bench-token"


def _wait_healthy(process: subprocess.Popen[bytes], port: int, log: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-2000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the server on port {port} did not start")


def start_server(data_dir: Path, port: int, *, account: str = ACCOUNT, token: str = TOKEN,
                 wait: float = 30, src: str | None = None, options: Sequence[str] = (),
                 wrapper: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """``switchboard serve`` on loopback, its output in ``data_dir/server.log``; ``src``: a
    source tree put first on its PYTHONPATH; ``options``: more of ``serve``'s; ``wrapper``: a
    command it runs under (e.g. valgrind's)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SWITCHBOARD_ACCOUNT_SID": account, "SWITCHBOARD_AUTH_TOKEN": token}
    if src:
        env["PYTHONPATH"] = src
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(
        [*wrapper, sys.executable, "-m", "switchboard", "serve", "--port", str(port), "--data-dir",
         str(data_dir), "--log-level", "warning", *options], env=env, stdout=log, stderr=log)
    _wait_healthy(process, port, data_dir / "server.log", wait)
    return process


def start_bare(port: int, log: Path, wait: float = 30, wrapper: Sequence[str] = ()
               ) -> subprocess.Popen[bytes]:
    """``bare_form_app.py`` on loopback, served as ``switchboard serve`` serves the API;
    ``wrapper``: a command it runs under."""
    out = open(log, "ab")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(
        [*wrapper, sys.executable, str(Path(__file__).with_name("bare_form_app.py")), "--port",
         str(port)], stdout=out, stderr=out)
    _wait_healthy(process, port, log, wait)
    return process


def setup(base: str, workers: int = 20) -> str:
    """A FIFO workspace with ``workers`` available workers of ample capacity (none: every
    task stays pending); its path."""
    client = httpx.Client(base_url=base, auth=(ACCOUNT, TOKEN))
    ws = client.post("/v1/Workspaces", data={"FriendlyName": "bench", "Template": "FIFO"}).json()
    path = f"/v1/Workspaces/{ws['sid']}"
    available = client.get(f"{path}/Activities", params={"FriendlyName": "Available"}).json()
    activity = available["activities"][0]["sid"]
    for i in range(workers):
        worker = client.post(f"{path}/Workers", data={
            "FriendlyName": f"agent{i}", "ActivitySid": activity}).json()
        client.post(f"{path}/Workers/{worker['sid']}/Channels/default",
                    data={"Capacity": 1000})
    return path


def session(base: str, connections: int) -> aiohttp.ClientSession:
    # aiohttp, not httpx, generates the load: httpx's async client tops out near 500
    # requests/s here and would measure itself rather than the server.
    credentials = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    return aiohttp.ClientSession(base, headers={"Authorization": f"Basic {credentials}"},
                                 connector=aiohttp.TCPConnector(limit=connections))


async def create(client: aiohttp.ClientSession, path: str, i: int) -> dict[str, object]:
    async with client.post(f"{path}/Tasks", data={"Attributes": json.dumps({"n": i})}) as r:
        body: dict[str, object] = await r.json()
        assert r.status == 201, body
        return body


async def throughput(base: str, path: str, tasks: int, concurrency: int,
                     expect: str | None = None) -> float:
    """Tasks created per second by ``concurrency`` closed-loop clients; ``expect``: the
    assignment status every answer must have."""
    async with session(base, concurrency) as client:
        remaining = iter(range(tasks))

        async def worker() -> None:
            for i in remaining:
                body = await create(client, path, i)
                assert expect is None or body["assignment_status"] == expect, body

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return tasks / (time.perf_counter() - started)


def _cpu_of(stat_path: str) -> float:
    """User + system CPU seconds from a ``/proc`` stat file (a process's or a thread's)."""
    with open(stat_path) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    return _cpu_of(f"/proc/{pid}/stat")


class Busy:
    """How busy a server's event loop (its main thread) and its other threads (the store's
    writer) were, and how idle the machine, between ``__init__`` and ``shares()``: whether
    a rate is bound by the server's CPU or by waiting (the commit's round trip)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = self._now()

    def _now(self) -> tuple[float, float, float, int, int]:
        loop = other = 0.0
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                seconds = _cpu_of(f"/proc/{self.pid}/task/{tid}/stat")
            except FileNotFoundError:
                continue  # a thread that ended meanwhile
            if int(tid) == self.pid:
                loop += seconds
            else:
                other += seconds
        with open("/proc/stat") as stat:
            ticks = [int(n) for n in stat.readline().split()[1:]]
        return time.perf_counter(), loop, other, ticks[3] + ticks[4], sum(ticks)

    def shares(self) -> tuple[float, float, float]:
        """(event loop, other threads) as shares of a core, and the machine's idle share."""
        wall0, loop0, other0, idle0, total0 = self.start
        wall, loop, other, idle, total = self._now()
        return ((loop - loop0) / (wall - wall0), (other - other0) / (wall - wall0),
                (idle - idle0) / max(1, total - total0))


async def latency(base: str, path: str, rate: int, seconds: float) -> list[float]:
    async with session(base, 256) as client:
        results: list[float] = []

        async def one(i: int) -> None:
            sent = time.perf_counter()
            body = await create(client, path, i)
            results.append(time.perf_counter() - sent)
            assert body["assignment_status"] == "reserved"

        await open_loop(rate, seconds, one)
        return results


async def open_loop(rate: int, seconds: float,
                    one: Callable[[int], Coroutine[Any, Any, None]]) -> None:
    """Start ``one(i)`` at a fixed rate, whether or not earlier ones have answered."""
    pending = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.create_task(one(i)))
    await asyncio.gather(*pending)


Round = tuple[float, float, float]  # requests/s, server and load generator CPU µs a request


def rounds(servers: dict[str, tuple[str, int]], n: int, tasks: int, concurrency: int
           ) -> dict[str, list[Round]]:
    """Per measurement ("bare", "<tree> pending", "<tree> routed"), each round's rate and
    CPU per request of the server and of this process, the load generator (the two share the
    machine's cores)."""
    results: dict[str, list[Round]] = {}
    for r in range(n):
        # Every other round in the reverse order: a slot's place in the round (after the bare
        # endpoint's burst, or after another tree's) moved its rate by up to a sixth.
        order = list(servers.items())
        for name, (base, pid) in order if r % 2 == 0 else reversed(order):
            for kind in ("bare",) if name == "bare" else ("pending", "routed"):
                path = ("/v1/Workspaces/WSbare" if kind == "bare"
                        else setup(base, workers=0 if kind == "pending" else 20))
                expect = {"bare": None, "pending": "pending", "routed": "reserved"}[kind]
                cpu = cpu_seconds(pid)
                own = time.process_time()
                busy = Busy(pid)
                rate = asyncio.run(throughput(base, path, tasks, concurrency, expect))
                loop, other, idle = busy.shares()
                us = (cpu_seconds(pid) - cpu) / tasks * 1e6
                load_us = (time.process_time() - own) / tasks * 1e6
                label = "bare" if kind == "bare" else f"{name} {kind}"
                results.setdefault(label, []).append((rate, us, load_us))
                print(f"  round {r + 1} {label:24} {rate:8,.0f}/s  {us:5.0f} µs CPU/request"
                      f" (load generator {load_us:3.0f})  event loop {loop:4.0%}, other "
                      f"threads {other:4.0%}, machine idle {idle:4.0%}", flush=True)
    return results


def report(results: dict[str, list[Round]]) -> None:
    bare = results["bare"]
    print(f"{'':24}{'rate/s':>9}{'µs CPU/req':>12}{'load gen.':>11}{'x bare rate':>13}"
          f"{'x bare CPU':>12}")
    for label, mine in results.items():
        rate, us, load_us = (statistics.median(r[i] for r in mine) for i in range(3))
        ratio = statistics.median(r[0] / b[0] for r, b in zip(mine, bare, strict=True))
        cpu_ratio = statistics.median(r[1] / b[1] for r, b in zip(mine, bare, strict=True))
        print(f"{label:24}{rate:9,.0f}{us:12.0f}{load_us:11.0f}{ratio:13.2f}{cpu_ratio:12.2f}")
    print("targets: routed ≥ 0.35 x bare rate, pending ≥ 0.5 x (median of the rounds' ratios)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--tasks", type=int, default=3_000, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10, help="of latency (0: none)")
    parser.add_argument("--port", type=int, default=18_080, help="and the next ones")
    parser.add_argument("--src", action="append", default=[],
                        help="a source tree to measure too (repeatable), e.g. the tree before "
                        "a change: git archive <commit> src | tar -x")
    args = parser.parse_args()
    trees = [("this tree", None), *((src, src) for src in args.src)]
    bare_port = args.port + len(trees)
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as data_dir:
        try:
            servers: dict[str, tuple[str, int]] = {}
            bare = start_bare(bare_port, Path(data_dir) / "bare.log")
            processes.append(bare)
            servers["bare"] = (f"http://127.0.0.1:{bare_port}", bare.pid)
            for i, (name, src) in enumerate(trees):
                server = start_server(Path(data_dir) / str(i), args.port + i, src=src)
                processes.append(server)
                servers[name] = (f"http://127.0.0.1:{args.port + i}", server.pid)
            print(f"machine: {machine()}")
            print(f"{args.rounds} rounds of {args.tasks} requests each, {args.concurrency} "
                  "concurrent keep-alive clients")
            report(rounds(servers, args.rounds, args.tasks, args.concurrency))
            if args.seconds:
                base = servers["this tree"][0]
                path = setup(base)
                times = sorted(asyncio.run(latency(base, path, args.rate, args.seconds)))
                p50 = statistics.median(times) * 1000
                p99 = times[int(len(times) * 0.99) - 1] * 1000
                print(f"latency at {args.rate} tasks/s for {args.seconds:.0f} s "
                      f"({len(times)} tasks): create -> reservation committed p50 {p50:.1f} ms,"
                      f" p99 {p99:.1f} ms (target p99 ≤ 20 ms)")
        finally:
            for process in processes:
                process.terminate()
                process.wait()


if __name__ == "__main__":
    main()
