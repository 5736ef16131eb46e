"""The store: SQL through SQLAlchemy Core, written with group commit.

Writes queued while a transaction is open are committed together in the next one (group
commit), so a burst of commands costs one fsync, not one each. If a batch fails, each of its
writes is retried alone so only the faulty one fails. The commands' changes are committed by
the event loop itself on SQLite (``loop_commits``), by the writer thread on PostgreSQL; every
other write (``submit``) runs on the writer thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, insert, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import PoolProxiedConnection

from switchboard.routing.changes import EVENT_FIELDS, FIELDS, Changes, Values
from switchboard.stats.rollups import ExecuteMany, Rollup, RollupListener, writer_for
from switchboard.store import tables
from switchboard.store.loop_commits import LoopCommits

log = logging.getLogger(__name__)
T = TypeVar("T")
Write = Callable[[Connection], Any]
# A write, who waits for it, and for a workspace's changes in a cluster the (workspace SID,
# ownership epoch) its commit must still hold.
Fence = tuple[str, int]
Queued = tuple["Write | Changes", "Waiter", "Fence | None"]
# Checks, inside a batch's transaction, that this node still owns each workspace at the epoch
# given; raises ``Fenced`` otherwise (``cluster/``).
FenceCheck = Callable[[Connection, dict[str, int]], None]
MAX_BATCH = 512
BACKENDS = ("sqlite", "postgresql")  # what the schema and its statements are written for
MIGRATION_LOCK = 0x5357_4D49  # an advisory lock key of our own ("SWMI")
CONNECT_TIMEOUT = 10  # seconds; PostgreSQL's default is to wait for the operating system
# The newest migration's revision (tests/integration/test_memory_schema.py checks it is
# alembic's head).
HEAD_REVISION = "0008"


# Python's sqlite3 adapts every parameter that is not an int, float or str before binding it:
# for None and bool, with no adapter registered, it raises and clears an AttributeError
# (``PrepareProtocol.__adapt__``, ~2,000 instructions) each time: a fifth of the writer's CPU,
# a task's and its events' rows holding some 40 of them. These adapters give what it would
# bind anyway (NULL; a bool as the integer it is), without the failed lookup. None's is an empty
# dict's ``get``: a C function that answers None, at half the cost of calling a Python one.
_NO_VALUES: dict[None, None] = {}
sqlite3.register_adapter(type(None), _NO_VALUES.get)
sqlite3.register_adapter(bool, int)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'switchboard.db').resolve()}"


def memory_url() -> str:
    """A SQLite database of this process's memory alone, new for each call (``serve
    --ephemeral``). SQLite's ``memdb`` VFS, unlike ``:memory:``, lets the connections of one
    process share the database with SQLite's usual locking; nothing touches the disk, and the
    database is gone when its last connection closes (the store keeps one open until it is
    closed)."""
    return f"sqlite:///file:/switchboard-{uuid.uuid4().hex}?vfs=memdb&uri=true"


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        parsed = _parse(url)
        self.safe_url = parsed.render_as_string(hide_password=True)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # Nothing of it on disk: SQLite in memory (``memory_url()``, or ``:memory:``).
        self.in_memory = self.is_sqlite and (
            parsed.database in (None, "", ":memory:") or parsed.query.get("vfs") == "memdb"
            or parsed.query.get("mode") == "memory")
        # The database file (None for PostgreSQL and in-memory SQLite).
        self.sqlite_path = (Path(parsed.database).resolve() if self.is_sqlite and parsed.database
                            and not self.in_memory else None)
        self.engine: Engine = _create_engine(parsed)
        # Every connection of this process sees one database (not so for a bare ``:memory:``,
        # a database of each connection's own): the event loop can commit on its own.
        self._loop_can_commit = self.is_sqlite and parsed.database not in (None, "", ":memory:")
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        # In memory, the database lives as long as a connection to it: this one, until close().
        self._keeper: Any = self.engine.raw_connection() if self.in_memory else None
        # SimpleQueue: a put from the event loop costs half of Queue's (no Python-level lock
        # and condition), once per command.
        self._queue: queue.SimpleQueue[Queued | None] = queue.SimpleQueue()
        self._statements: dict[str, str] = {}
        self._mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._rollups = writer_for(self.engine.dialect)
        self._writer: threading.Thread | None = None
        # One write transaction at a time: the writer thread's or the event loop's (SQLite).
        self._transaction = threading.Lock()
        self._loop_commits: LoopCommits | None = None
        self._loop_connection: PoolProxiedConnection | None = None
        self._checkpoint_asked = False
        self.fence_check: FenceCheck | None = None
        # Told (on the thread that committed it) of each batch: seconds taken, writes in it.
        self.on_batch: Callable[[float, int], None] | None = None
        # Told (on the thread that commits) of the events each transaction stores, before it
        # commits, and of them and their rollup once committed (statistics kept in memory).
        self.rollup_listeners: list[RollupListener] = []

    # ------------------------------------------------------------------ lifecycle

    def migrate(self) -> None:
        """Bring the schema to the newest revision. A database in memory is new: it gets the
        newest schema straight from ``tables`` (the migrations give the same, which a test
        checks), stamped at the head revision, without loading alembic (a tenth of a second)."""
        if self.in_memory:
            self._create_newest()
            return
        # Imported here, after the server configured logging: alembic's import logs a line per
        # plugin it sets up (INFO), noise no server's log had when it was imported first.
        quiet = logging.getLogger("alembic.runtime.plugins")
        level = quiet.level
        quiet.setLevel(logging.WARNING)
        try:
            from alembic import command
            from alembic.config import Config
        finally:
            quiet.setLevel(level)

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        try:
            with self.engine.begin() as connection:
                if not self.is_sqlite:
                    # Nodes of a cluster starting together migrate one at a time; the lock
                    # ends with the transaction.
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except DBAPIError as exc:  # the first touch of the database: this is where it fails
            reason = " ".join(str(exc.orig).split())  # drivers' messages span lines
            raise StoreUnavailable(f"cannot use the database {self.safe_url}: {reason}"
                                   ) from None

    def _create_newest(self) -> None:
        """The newest schema in a new (in-memory) database: what ``upgrade head`` leaves."""
        with self.engine.begin() as connection:
            if connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name = 'alembic_version'").first():
                return  # created already (``migrate`` twice on one store)
            tables.metadata.create_all(connection)
            # The rows the migrations insert (0004).
            connection.execute(insert(tables.credentials_version).values(id=1, version=0))
            # alembic's own table, as ``alembic stamp head`` makes it.
            connection.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) "
                                       "NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY "
                                       "(version_num))")
            connection.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES (?)",
                                       (HEAD_REVISION,))

    def start(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="store-writer",
                                            daemon=True)
            self._writer.start()
        if self._loop_can_commit and self._loop_commits is None:
            # The loop's own connection, out of the pool for good (``close`` drops it).
            self._loop_connection = self.engine.raw_connection()
            connection = self._loop_connection.driver_connection
            assert isinstance(connection, sqlite3.Connection)
            # Checkpoints are the writer thread's (``_checkpoint``), never the loop's.
            connection.execute("PRAGMA wal_autocheckpoint=0")
            self._loop_commits = LoopCommits(
                connection, self._transaction,
                write=lambda execute, changes: self.apply_changes(execute, changes),
                committed=self._committed, checkpoint=self._ask_checkpoint,
                error=lambda: StoreError("the change could not be stored"))

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None
        if self._loop_connection is not None:
            self._loop_connection.invalidate()  # closed, not back to the pool: its settings
            self._loop_connection = None
            self._loop_commits = None
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None
        self.engine.dispose()

    # ------------------------------------------------------------------ writing

    def submit(self, write: Callable[[Connection], T]) -> Future[T]:
        """Queue a write; the future resolves once it is committed."""
        future: Future[T] = Future()
        self._queue.put((write, future, None))
        return future

    def submit_changes(self, changes: Changes) -> Future[None]:
        """Queue a command's changes; queued changes are merged into one set of statements."""
        future: Future[None] = Future()
        self._queue.put((changes, future, None))
        return future

    def commit(self, changes: Changes, fence: Fence | None = None) -> asyncio.Future[None]:
        """``submit_changes`` for the event loop: an asyncio future, resolved with the others
        of its batch in one hop back to the loop. With a ``fence``, the commit happens only if
        the workspace is still this node's at that epoch (else ``Fenced``). On SQLite, the
        loop commits them itself at the end of its turn (``loop_commits``)."""
        loop = asyncio.get_running_loop()
        if fence is None and self._loop_commits is not None:
            return self._loop_commits.add(changes, loop)
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((changes, LoopWaiter(loop, future), fence))
        return future

    async def settled(self) -> None:
        """Returns once every write queued before, from this loop or the writer's queue, is
        committed (or has failed)."""
        await self.commit(Changes())
        if self._loop_commits is not None:
            await asyncio.wrap_future(self.submit(lambda conn: None))

    def _write_loop(self) -> None:
        with self.engine.connect() as conn:  # one connection for the writer's whole life
            self._write_with(conn)

    def _write_with(self, conn: Connection) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            batch: list[Queued] = []
            checkpoint = False
            while True:
                if item is None:
                    stop = True
                    break
                if item is _CHECKPOINT:
                    checkpoint = True
                else:
                    batch.append(item)
                if len(batch) == MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if checkpoint:  # in the queue's order: asked before some of the batch
                self._checkpoint(conn)
            if batch:
                with self._transaction:
                    self._commit_batch(conn, batch)
                if self._loop_commits is not None:
                    self._loop_commits.wake()

    def _ask_checkpoint(self) -> None:
        """The loop asks for a WAL checkpoint (at most one queued at a time)."""
        if not self._checkpoint_asked:
            self._checkpoint_asked = True
            self._queue.put(_CHECKPOINT)

    def _checkpoint(self, conn: Connection) -> None:
        """Copy the WAL's committed pages into the database file, without waiting for
        readers (PASSIVE). Twice: the bulk beside the loop's commits, then what they added
        meanwhile with none under way. Only a checkpoint that copied every frame lets the
        next commit write the WAL from its start again; one always overtaken by commits would
        let it grow without end."""
        self._checkpoint_asked = False
        try:
            with conn.begin():
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            with self._transaction, conn.begin():
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:
            log.exception("WAL checkpoint failed")
        if self._loop_commits is not None:
            self._loop_commits.wake()

    def _commit_batch(self, conn: Connection, batch: list[Queued]) -> None:
        started = time.perf_counter()
        try:
            results: list[Any] = []
            merged = Changes()
            rollup: Rollup | None = None
            with conn.begin():
                fences = {fence[0]: fence[1] for _, _, fence in batch if fence is not None}
                if fences and self.fence_check is not None:
                    self.fence_check(conn, fences)
                for work, _, _ in batch:
                    if isinstance(work, Changes):
                        merged.absorb(work)
                        results.append(None)
                    else:
                        results.append(work(conn))
                if merged:
                    rollup = self.apply_changes(conn.exec_driver_sql, merged)
        except Exception as exc:
            if len(batch) == 1:
                if isinstance(exc, Fenced):
                    error: StoreError = exc
                else:
                    log.exception("store write failed")
                    error = StoreError("the change could not be stored")
                _settle([(batch[0][1], None, error)])
                return
            for item in batch:  # find the faulty write: commit each alone
                self._commit_batch(conn, [item])
            return
        self._committed(merged, rollup, time.perf_counter() - started, len(batch))
        _settle([(waiter, result, None) for (_, waiter, _), result in zip(batch, results,
                                                                           strict=True)])

    def apply_changes(self, execute: ExecuteMany, changes: Changes) -> Rollup | None:
        """Write one (possibly merged) set of changes with one statement per table, straight
        to the driver (rows are plain values already: SQLAlchemy's per-row parameter
        processing held the GIL for most of a commit); returns the statistics rollup of its
        events."""
        rollup = None
        if changes.events:
            execute(self._statement("event"), changes.event_rows())
            # The statistics rollups, in the same transaction: they always agree with the log.
            rollup = Rollup()
            rollup.add_events(changes.events)
            if rollup:
                self._rollups.write(execute, rollup)
            for listener in self.rollup_listeners:
                listener.staged(changes.events)
        by_kind: dict[str, list[Values]] = {}
        for (kind, _), row in changes.upserts.items():
            by_kind.setdefault(kind, []).append(row)
        for kind, rows in by_kind.items():
            execute(self._statement(kind), rows)
        mark = self._mark
        deleted: dict[str, list[tuple[str]]] = {}
        for kind, sid in changes.deletes:
            deleted.setdefault(kind, []).append((sid,))
        for kind, sids in deleted.items():
            execute(f"DELETE FROM {tables.ENTITY_TABLES[kind].name} WHERE sid = {mark}", sids)
        # Last: a dropped workspace takes every row with it, its final events included.
        for workspace_sid in changes.dropped_workspaces:
            for table in tables.WORKSPACE_CHILDREN:
                execute(f"DELETE FROM {table.name} WHERE workspace_sid = {mark}",
                        [(workspace_sid,)])
            execute(f"DELETE FROM {tables.workspaces.name} WHERE sid = {mark}", [(workspace_sid,)])
        return rollup

    def _committed(self, changes: Changes, rollup: Rollup | None, seconds: float,
                   writes: int) -> None:
        """After a batch's commit, on the thread that committed it."""
        if changes and self.rollup_listeners:
            for listener in self.rollup_listeners:
                try:
                    listener.committed(changes.events, rollup or Rollup(),
                                       changes.dropped_workspaces)
                except Exception:
                    log.exception("rollup listener failed")
        if self.on_batch is not None:
            self.on_batch(seconds, writes)

    def _statement(self, kind: str) -> str:
        """INSERT for events, INSERT … ON CONFLICT (sid) DO UPDATE for entities (both SQLite
        and PostgreSQL speak it), with the driver's placeholders; the columns in the order
        ``Changes`` gives their values."""
        sql = self._statements.get(kind)
        if sql is not None:
            return sql
        table = tables.events if kind == "event" else tables.ENTITY_TABLES[kind]
        columns = EVENT_FIELDS if kind == "event" else FIELDS[kind]
        sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
               f"VALUES ({', '.join([self._mark] * len(columns))})")
        if kind != "event":
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "sid")
            sql += f" ON CONFLICT (sid) DO UPDATE SET {updates}"
        self._statements[kind] = sql
        return sql

    # ------------------------------------------------------------------ reading

    def rows(self, table: Any, *where: Any, order: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            query = select(table).where(*where).order_by(*order)
            return [dict(row._mapping) for row in conn.execute(query)]

    def scalar(self, query: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()


class StoreError(Exception):
    """A change could not be committed; nothing of it was stored."""


class Fenced(StoreError):
    """A workspace's change was not committed: another node owns the workspace now."""

    def __init__(self, workspace_sids: list[str]) -> None:
        super().__init__(f"workspaces owned by another node now: {', '.join(workspace_sids)}")
        self.workspace_sids = workspace_sids


class StoreUnavailable(Exception):
    """The store cannot be opened: a malformed URL, an unknown driver, no database there."""


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        shown = re.sub(r":[^:@/]*@", ":***@", url)  # never print a password
        raise StoreUnavailable(f"the database URL {shown!r} is malformed; expected e.g. "
                               "postgresql+psycopg://user@host/db or sqlite:///path/file.db"
                               ) from None
    if parsed.get_backend_name() not in BACKENDS:
        raise StoreUnavailable(f"the database URL names {parsed.get_backend_name()!r}; "
                               "Switchboard runs on SQLite and PostgreSQL")
    return parsed


def _create_engine(url: URL) -> Engine:
    try:
        if url.get_backend_name() == "sqlite":
            return create_engine(url)
        connect_args = {} if "connect_timeout" in url.query else {
            "connect_timeout": CONNECT_TIMEOUT}
        return create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True,
                             connect_args=connect_args)
    except NoSuchModuleError:
        raise StoreUnavailable(f"the database URL names an unknown driver {url.drivername!r}; "
                               "use postgresql+psycopg or sqlite") from None
    except ImportError as exc:
        raise StoreUnavailable(f"the database driver for {url.drivername!r} is not installed "
                               f"({exc})") from None


_CHECKPOINT: Any = object()  # queued for the writer thread: a WAL checkpoint (SQLite)


class LoopWaiter(NamedTuple):
    """An asyncio future waiting for a write, with the loop it belongs to (a named tuple:
    made once per command, half a frozen dataclass's cost)."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


Waiter = Future[Any] | LoopWaiter
Outcome = tuple[Waiter, Any, BaseException | None]


def _settle(outcomes: list[Outcome]) -> None:
    """Resolve waiters; asyncio ones with one wake-up of their loop per batch, not one each."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        waiter = outcome[0]
        if isinstance(waiter, LoopWaiter):
            by_loop.setdefault(waiter.loop, []).append(outcome)
        elif not waiter.set_running_or_notify_cancel():
            continue  # its caller gave up waiting; the write stands all the same
        elif outcome[2] is not None:
            waiter.set_exception(outcome[2])
        else:
            waiter.set_result(outcome[1])
    for loop, mine in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            loop.call_soon_threadsafe(_settle_on_loop, mine)


def _settle_on_loop(outcomes: list[Outcome]) -> None:
    for waiter, result, error in outcomes:
        future = waiter.future  # type: ignore[union-attr]
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before it is acknowledged, even across power loss.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
