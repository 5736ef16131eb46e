"""``switchboard serve | accounts | keys | callbacks``.

Operator mistakes (a bad option, a database that cannot be reached, a port in use, a data dir
already served) end with one line on standard error and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from switchboard.service.accounts import AccountRegistry
from switchboard.service.clock import ManualClock, SystemClock
from switchboard.service.runtime import Runtime
from switchboard.settings import Settings
from switchboard.store.database import Store, StoreUnavailable, memory_url
from switchboard.store.server_lock import DataDirInUse, ServerLock

DATA_DIR = click.option("--data-dir", type=click.Path(path_type=Path), default=Path("./data"),
                        envvar="SWITCHBOARD_DATA_DIR", show_default=True,
                        help="Where the embedded SQLite database lives.")
DATABASE_URL = click.option("--database-url", envvar="SWITCHBOARD_DATABASE_URL",
                            help="Any SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db.")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")  # uvicorn's


def _api_commands() -> dict[str, click.Command]:
    """The commands that speak the REST API (they bring the twilio SDK and YAML with them:
    imported only when one of them runs, or for the help)."""
    from switchboard.simulate import simulate_command
    from switchboard.workspace_file import apply_command, export_command

    return {"apply": apply_command, "export": export_command, "simulate": simulate_command}


API_COMMANDS = ("apply", "export", "simulate")


class Cli(click.Group):
    """Click's group, but every error is one line: click's usage errors come with a usage
    block, and our own (store, lock, port) would otherwise be tracebacks. The API commands
    are loaded when named (``serve`` starts faster without them)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *API_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in API_COMMANDS and cmd_name not in self.commands:
            return _api_commands()[cmd_name]
        return super().get_command(ctx, cmd_name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("standalone_mode", True) is False:
            return super().main(*args, **kwargs)
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()  # the help text, as click shows it
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(f"Error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except (StoreUnavailable, DataDirInUse) as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except click.Abort:  # Ctrl-C before the server was up
            sys.exit(130)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=Cli)
@click.version_option(package_name="switchboard", prog_name="switchboard")
def main() -> None:
    """Switchboard: a task routing engine compatible with Twilio TaskRouter."""


def open_store(data_dir: Path, database_url: str | None) -> Store:
    """The store, not yet touched: a bad URL fails here, an unreachable database when used."""
    settings = Settings(data_dir=data_dir, database_url=database_url)
    try:
        url = settings.resolved_database_url()
    except OSError as exc:
        raise click.ClickException(f"cannot create the data dir {data_dir}: "
                                   f"{exc.strerror}") from None
    return Store(url)


@contextlib.contextmanager
def store_session(data_dir: Path, database_url: str | None) -> Iterator[Store]:
    """The store for one short command (no workspace is loaded, no server lock taken)."""
    store = open_store(data_dir, database_url)
    store.migrate()
    store.start()
    try:
        yield store
    finally:
        store.close()


@contextlib.contextmanager
def credentials(data_dir: Path, database_url: str | None) -> Iterator[AccountRegistry]:
    with store_session(data_dir, database_url) as store:
        registry = AccountRegistry(store)
        registry.load()
        yield registry


@main.command()
@click.option("--host", default="127.0.0.1", envvar="SWITCHBOARD_HOST", show_default=True)
@click.option("--port", default=8080, type=int, envvar="SWITCHBOARD_PORT", show_default=True)
@DATA_DIR
@DATABASE_URL
@click.option("--public-url", envvar="SWITCHBOARD_PUBLIC_URL",
              help="Base of the URLs in responses (default: the request's own host).")
@click.option("--ephemeral", is_flag=True, envvar="SWITCHBOARD_EPHEMERAL",
              help="Keep everything in memory: nothing is written to disk and all is gone "
              "at exit (for tests; the account comes from SWITCHBOARD_ACCOUNT_SID and "
              "SWITCHBOARD_AUTH_TOKEN).")
@click.option("--clock", type=click.Choice(["system", "manual"]), default="system",
              envvar="SWITCHBOARD_CLOCK", show_default=True,
              help="manual: time moves only through POST /dev/clock.")
@click.option("--log-level", default="info", envvar="SWITCHBOARD_LOG_LEVEL", show_default=True,
              type=click.Choice(LOG_LEVELS, case_sensitive=False))
@click.option("--callback-attempts", default=5, type=click.IntRange(1, 50),
              envvar="SWITCHBOARD_CALLBACK_ATTEMPTS", show_default=True,
              help="Attempts per event callback (a URL's #rc= overrides it).")
@click.option("--callback-backoff", default=1.0, type=click.FloatRange(0),
              envvar="SWITCHBOARD_CALLBACK_BACKOFF", show_default=True,
              help="Seconds before the first retry; doubles each time, at most 60.")
@click.option("--callback-niceness", default=10, type=click.IntRange(0, 19),
              envvar="SWITCHBOARD_CALLBACK_NICENESS", show_default=True,
              help="How much lower than the server's the callback sender's CPU priority is "
              "(Unix nice); 0 for the same.")
@click.option("--event-retention-days", default=30.0, type=click.FloatRange(min=0,
              min_open=True), envvar="SWITCHBOARD_EVENT_RETENTION_DAYS", show_default=True)
@click.option("--cors-origins", envvar="SWITCHBOARD_CORS_ORIGINS", default="",
              help="Comma-separated origins whose pages may call the API and the event "
              "bridge (default, or '*': any, as Twilio).")
@click.option("--max-body-bytes", default=1024 * 1024, type=click.IntRange(1),
              envvar="SWITCHBOARD_MAX_BODY_BYTES", show_default=True,
              help="Larger request bodies get 413 (the event bridge's RPC: at most 64 KiB).")
@click.option("--header-timeout", default=10.0, type=click.FloatRange(0, min_open=True),
              envvar="SWITCHBOARD_HEADER_TIMEOUT", show_default=True,
              help="Seconds for a request's headers to arrive (from the connection's start "
              "or the request's first byte).")
@click.option("--body-timeout", default=30.0, type=click.FloatRange(0, min_open=True),
              envvar="SWITCHBOARD_BODY_TIMEOUT", show_default=True,
              help="Seconds for a request's body to arrive after its headers.")
@click.option("--keep-alive-timeout", default=5.0, type=click.FloatRange(0, min_open=True),
              envvar="SWITCHBOARD_KEEP_ALIVE_TIMEOUT", show_default=True,
              help="Seconds an idle connection is kept open between requests.")
@click.option("--max-connections", default=1000, type=click.IntRange(1),
              envvar="SWITCHBOARD_MAX_CONNECTIONS", show_default=True,
              help="Open HTTP connections; more are answered 503. Workers' WebSockets are "
              "not counted.")
@click.option("--node-id", envvar="SWITCHBOARD_NODE_ID",
              help="This node's name in a cluster (default: host, process id and a random "
              "suffix).")
@click.option("--advertise-url", envvar="SWITCHBOARD_ADVERTISE_URL",
              help="Where the other nodes of a cluster reach this one (default: "
              "http://HOST:PORT).")
@click.option("--lease-seconds", default=3.0, type=click.FloatRange(0.5, 300),
              envvar="SWITCHBOARD_LEASE_SECONDS", show_default=True,
              help="How long a node's ownership of a workspace lasts without renewal: a dead "
              "node's workspaces move after this.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), envvar="SWITCHBOARD_METRICS_PORT",
              help="Serve Prometheus metrics at /metrics on this port (of --host); off when "
              "not given.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              envvar="SWITCHBOARD_LOG_FORMAT", show_default=True,
              help="json: one object per line (time, level, logger, message, context).")
@click.option("--console-secret", envvar="SWITCHBOARD_CONSOLE_SECRET",
              help="The key that signs web console sessions; give every node of a cluster "
              "the same one. Default: a new key at each start (restarting signs everyone "
              "out).")
@click.option("--access-log/--no-access-log", default=True, envvar="SWITCHBOARD_ACCESS_LOG",
              show_default=True, help="One log line per HTTP request.")
@click.option("--rate-limits", type=click.Choice(["off", "twilio"]), default="off",
              envvar="SWITCHBOARD_RATE_LIMITS", show_default=True,
              help="twilio: enforce TaskRouter's default rate limits per account (429, "
              "error 20429).")
def serve(host: str, port: int, data_dir: Path, database_url: str | None,
          public_url: str | None, ephemeral: bool, clock: str, log_level: str,
          callback_attempts: int, callback_backoff: float, callback_niceness: int,
          event_retention_days: float,
          cors_origins: str, max_body_bytes: int, header_timeout: float, body_timeout: float,
          keep_alive_timeout: float, max_connections: int, node_id: str | None,
          advertise_url: str | None, lease_seconds: float, metrics_port: int | None,
          console_secret: str | None, log_format: str, access_log: bool,
          rate_limits: str) -> None:
    """Start the server. On PostgreSQL, every server sharing the database is a node of one
    cluster."""
    from switchboard import serving
    from switchboard.api.app import BackgroundService, create_app
    from switchboard.callbacks.dispatcher import CallbackDispatcher
    from switchboard.connection_limits import ConnectionLimits, uvicorn_options
    from switchboard.ops import logs
    from switchboard.ops.metrics import Metrics, MetricsServer
    from switchboard.ops.stack import Ops
    from switchboard.service.credentials_watch import CredentialsWatch
    from switchboard.service.retention import EventRetention

    logs.configure(log_level, log_format)
    try:  # first: a port in use is refused before anything is opened or started
        sock = serving.bind(host, port)
        metrics_sock = serving.bind(host, metrics_port) if metrics_port is not None else None
    except serving.PortUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    if ephemeral and database_url:
        raise click.ClickException("--ephemeral keeps everything in memory: it takes no "
                                   "--database-url")
    store = Store(memory_url()) if ephemeral else open_store(data_dir, database_url)
    # Held until the process ends; only the SQLite store is one node's alone.
    lock = ServerLock(store.sqlite_path) if store.sqlite_path else None
    clustered = not store.is_sqlite
    runtime = Runtime(store, ManualClock() if clock == "manual" else SystemClock(),
                      clustered=clustered)
    runtime.start()
    account, created = runtime.bootstrap_account()
    if created:
        click.echo(f"Created account {account.sid}")
        click.echo(f"  Account SID: {account.sid}")
        click.echo(f"  Auth token:  {account.auth_token}")
    else:
        click.echo(f"Account {account.sid}")
    dispatcher = CallbackDispatcher(runtime, attempts=callback_attempts,
                                    backoff=callback_backoff, niceness=callback_niceness)
    services: list[BackgroundService] = [CredentialsWatch(runtime.accounts), dispatcher,
                                         EventRetention(runtime, event_retention_days)]
    node = None
    if clustered:  # last to start, first to stop: workspaces come and go with the rest up
        from switchboard.cluster.node import ClusterConfig, ClusterNode, default_node_id

        node = ClusterNode(runtime, ClusterConfig(
            node_id=node_id or default_node_id(),
            url=(advertise_url or serving.url_of(sock)).rstrip("/"),
            lease_seconds=lease_seconds))
        services.append(node)
    ops = Ops(access_log=access_log, rate_limits=rate_limits, node=node)
    if metrics_sock is not None:
        ops.metrics = Metrics(runtime, callbacks=dispatcher, cluster=node)
        services.append(MetricsServer(ops.metrics, metrics_sock))
    app: Any = create_app(runtime, public_url, services=services,
                          cors_origins=[o.strip() for o in cors_origins.split(",")
                                        if o.strip()],
                          max_body_bytes=max_body_bytes, ops=ops,
                          console_secret=console_secret)
    console_feed = app.state.console_feed
    if node is not None:
        from switchboard.cluster.forwarding import ClusterRouter

        app = ClusterRouter(app, node, max_body_bytes=max_body_bytes, ops=ops)
    limits = ConnectionLimits(header_timeout=header_timeout, body_timeout=body_timeout,
                              keep_alive_timeout=keep_alive_timeout,
                              max_connections=max_connections)

    def announce() -> None:
        kept = ", in memory" if ephemeral else ""
        if metrics_sock is not None:
            click.echo(f"Serving metrics on {serving.url_of(metrics_sock)}/metrics")
        click.echo(f"Serving the TaskRouter API on {serving.url_of(sock)}/v1 (clock: {clock}"
                   f"{kept})")

    # No permessage-deflate on workers' WebSockets: it would double each idle connection's
    # memory for frames of a few hundred bytes.
    async def before_exit() -> None:
        # Open console pages hold a response each: ended first, or the shutdown would wait
        # for them until its graceful timeout.
        console_feed.close()
        if node is not None:
            await node.hand_over_all()

    serving.run(app, sock, announce, before_exit,
                log_level=log_level.lower(), access_log=False,
                log_config=logs.uvicorn_log_config(),
                timeout_graceful_shutdown=10, ws_per_message_deflate=False,
                **uvicorn_options(limits))
    if lock is not None:
        lock.release()


@main.group()
def accounts() -> None:
    """Manage accounts."""


def _emit(rows: list[dict[str, Any]], as_json: bool, *, many: bool = False) -> None:
    """Rows as ``key=value`` lines, or JSON: a list for ``many`` (a listing, even of one),
    else the one object a command made."""
    if as_json:
        click.echo(json.dumps(rows if many or len(rows) != 1 else rows[0], indent=2))
        return
    for row in rows:
        click.echo("  ".join(f"{k}={v}" for k, v in row.items()))


@accounts.command("create")
@click.option("--friendly-name")
@DATA_DIR
@DATABASE_URL
@AS_JSON
def accounts_create(friendly_name: str | None, data_dir: Path, database_url: str | None,
                    as_json: bool) -> None:
    """Create an account and print its SID and auth token.

    Running servers on the same store accept it within a second."""
    with credentials(data_dir, database_url) as registry:
        account = registry.create_account(SystemClock().now_ms(), friendly_name=friendly_name)
    _emit([{"sid": account.sid, "friendly_name": account.friendly_name,
            "auth_token": account.auth_token}], as_json)


@accounts.command("list")
@DATA_DIR
@DATABASE_URL
@AS_JSON
def accounts_list(data_dir: Path, database_url: str | None, as_json: bool) -> None:
    """List accounts."""
    with credentials(data_dir, database_url) as registry:
        rows = [{"sid": a.sid, "friendly_name": a.friendly_name, "status": a.status}
                for a in registry.accounts.values()]
    _emit(rows, as_json, many=True)


@accounts.command("rotate-token")
@click.argument("account_sid", metavar="AC…")
@DATA_DIR
@DATABASE_URL
@AS_JSON
def accounts_rotate_token(account_sid: str, data_dir: Path, database_url: str | None,
                          as_json: bool) -> None:
    """Give an account a new auth token and print it (shown only now).

    Running servers on the same store refuse the old token within a second."""
    with credentials(data_dir, database_url) as registry:
        if account_sid not in registry.accounts:
            raise click.ClickException(f"No account {account_sid}")
        account = registry.rotate_auth_token(account_sid, SystemClock().now_ms())
    _emit([{"sid": account.sid, "auth_token": account.auth_token}], as_json)


@main.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--account", "account_sid", required=True, help="The account (AC…).")
@click.option("--friendly-name")
@DATA_DIR
@DATABASE_URL
@AS_JSON
def keys_create(account_sid: str, friendly_name: str | None, data_dir: Path,
                database_url: str | None, as_json: bool) -> None:
    """Create an API key and print its SID and secret (shown only now).

    Running servers on the same store accept it within a second."""
    with credentials(data_dir, database_url) as registry:
        if account_sid not in registry.accounts:
            raise click.ClickException(f"No account {account_sid}")
        key = registry.create_key(account_sid, SystemClock().now_ms(), friendly_name)
    _emit([{"sid": key.sid, "account_sid": key.account_sid,
            "friendly_name": key.friendly_name, "secret": key.secret}], as_json)


@keys.command("list")
@click.option("--account", "account_sid", help="Only this account's keys (AC…).")
@DATA_DIR
@DATABASE_URL
@AS_JSON
def keys_list(account_sid: str | None, data_dir: Path, database_url: str | None,
              as_json: bool) -> None:
    """List API keys (without their secrets)."""
    with credentials(data_dir, database_url) as registry:
        found = sorted(registry.keys.values(), key=lambda k: (k.account_sid, k.date_created))
    rows = [{"sid": k.sid, "account_sid": k.account_sid, "friendly_name": k.friendly_name}
            for k in found if account_sid is None or k.account_sid == account_sid]
    _emit(rows, as_json, many=True)


@keys.command("delete")
@click.argument("key_sid", metavar="SK…")
@DATA_DIR
@DATABASE_URL
def keys_delete(key_sid: str, data_dir: Path, database_url: str | None) -> None:
    """Delete an API key. Running servers on the same store refuse it within a second."""
    with credentials(data_dir, database_url) as registry:
        if key_sid not in registry.keys:
            raise click.ClickException(f"No API key {key_sid}")
        registry.delete_key(key_sid)
    click.echo(f"Deleted {key_sid}")


@main.command()
@click.option("--workspace", "workspace_sid", help="Only this workspace (WS…).")
@click.option("--failed", "failed_only", is_flag=True, help="Only the failures.")
@DATA_DIR
@DATABASE_URL
@AS_JSON
def callbacks(workspace_sid: str | None, failed_only: bool, data_dir: Path,
              database_url: str | None, as_json: bool) -> None:
    """Show event callbacks still owed per workspace, and the ones given up on."""
    from switchboard.callbacks.status import callback_status

    with store_session(data_dir, database_url) as store:
        status = callback_status(store, workspace_sid)
    if failed_only:
        status.pop("pending")
    if as_json:
        click.echo(json.dumps(status, indent=2))
        return
    for row in status.get("pending", []):
        click.echo(f"pending  {row['workspace_sid']}  events={row['events']}  "
                   f"assignments={row['assignments']}")
    for row in status["failed"]:
        click.echo(f"failed   {row['workspace_sid']}  {row['kind']}  {row['event_sid']}  "
                   f"{row['url']}  attempts={row['attempts']}  {row['error']}")


@main.command()
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the copy (replaced only once the copy is complete).")
@DATA_DIR
@DATABASE_URL
def backup(out: Path, data_dir: Path, database_url: str | None) -> None:
    """Copy the SQLite store consistently, also while a server runs on it (PostgreSQL:
    use pg_dump, see the README)."""
    from switchboard.ops.backup import BackupError, backup_sqlite
    from switchboard.store.database import sqlite_url

    url = database_url or sqlite_url(data_dir)
    store = Store(url)
    try:
        if not store.is_sqlite:
            raise click.ClickException("backup copies a SQLite store; back up PostgreSQL with "
                                       "pg_dump (see the README)")
        if store.sqlite_path is None:
            raise click.ClickException("an in-memory database has nothing to back up")
        size = backup_sqlite(store.sqlite_path, out)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.engine.dispose()
    click.echo(f"Backed up {store.sqlite_path} to {out} ({size} bytes)")


@main.group()
def cluster() -> None:
    """Look at and steer the nodes sharing a PostgreSQL database."""


def _cluster_store(database_url: str | None) -> contextlib.AbstractContextManager[Store]:
    if not database_url or database_url.startswith("sqlite"):
        raise click.ClickException("a cluster needs a PostgreSQL --database-url (SQLite is "
                                   "one node's alone)")
    return store_session(Path("."), database_url)


@cluster.command("status")
@DATABASE_URL
@AS_JSON
def cluster_status(database_url: str | None, as_json: bool) -> None:
    """Every node, when it was last seen, and the workspaces it owns."""
    from switchboard.cluster import directory

    with _cluster_store(database_url) as store, store.engine.begin() as conn:
        nodes = directory.status(conn)
    if as_json:
        click.echo(json.dumps({"nodes": nodes}, indent=2))
        return
    for node in nodes:
        state = " (leaving)" if node["leaving"] else ""
        click.echo(f"{node['id']}  {node['url']}  seen {node['seconds_since_seen']} s ago"
                   f"{state}  workspaces={len(node['workspaces'])}")
        for sid in node["workspaces"]:
            click.echo(f"  {sid}")


@cluster.command("pin")
@click.argument("workspace_sid")
@click.argument("node_id", required=False)
@DATABASE_URL
def cluster_pin(workspace_sid: str, node_id: str | None, database_url: str | None) -> None:
    """Place a workspace on a node (while it is live); without NODE_ID, back to automatic
    placement."""
    from switchboard.cluster import directory

    with _cluster_store(database_url) as store, store.engine.begin() as conn:
        if not directory.pin(conn, workspace_sid, node_id):
            raise click.ClickException(f"No workspace {workspace_sid}")
    click.echo(f"{workspace_sid} pinned to {node_id}" if node_id
               else f"{workspace_sid} placed automatically")

