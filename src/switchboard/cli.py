"""``switchboard serve | accounts | keys``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from switchboard.service.clock import Clock, ManualClock, SystemClock
from switchboard.service.runtime import Runtime
from switchboard.settings import Settings
from switchboard.store.database import Store

DATA_DIR = click.option("--data-dir", type=click.Path(path_type=Path), default=Path("./data"),
                        envvar="SWITCHBOARD_DATA_DIR", show_default=True,
                        help="Where the embedded SQLite database lives.")
DATABASE_URL = click.option("--database-url", envvar="SWITCHBOARD_DATABASE_URL",
                            help="Any SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db.")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
def main() -> None:
    """Switchboard: a task routing engine compatible with Twilio TaskRouter."""


def open_runtime(data_dir: Path, database_url: str | None, clock: Clock | None = None) -> Runtime:
    settings = Settings(data_dir=data_dir, database_url=database_url)
    runtime = Runtime(Store(settings.resolved_database_url()), clock)
    runtime.start()
    return runtime


@main.command()
@click.option("--host", default="127.0.0.1", envvar="SWITCHBOARD_HOST", show_default=True)
@click.option("--port", default=8080, type=int, envvar="SWITCHBOARD_PORT", show_default=True)
@DATA_DIR
@DATABASE_URL
@click.option("--public-url", envvar="SWITCHBOARD_PUBLIC_URL",
              help="Base of the URLs in responses (default: the request's own host).")
@click.option("--clock", type=click.Choice(["system", "manual"]), default="system",
              envvar="SWITCHBOARD_CLOCK", show_default=True,
              help="manual: time moves only through POST /dev/clock.")
@click.option("--log-level", default="info", envvar="SWITCHBOARD_LOG_LEVEL", show_default=True)
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
              "bridge ('*' for any; default: none).")
def serve(host: str, port: int, data_dir: Path, database_url: str | None,
          public_url: str | None, clock: str, log_level: str, callback_attempts: int,
          callback_backoff: float, callback_niceness: int, event_retention_days: float,
          cors_origins: str) -> None:
    """Start the server."""
    import uvicorn

    from switchboard.api.app import create_app
    from switchboard.callbacks.dispatcher import CallbackDispatcher
    from switchboard.service.retention import EventRetention

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    runtime = open_runtime(data_dir, database_url,
                           ManualClock() if clock == "manual" else SystemClock())
    account, created = runtime.bootstrap_account()
    if created:
        click.echo(f"Created account {account.sid}")
        click.echo(f"  Account SID: {account.sid}")
        click.echo(f"  Auth token:  {account.auth_token}")
    else:
        click.echo(f"Account {account.sid}")
    click.echo(f"Serving the TaskRouter API on http://{host}:{port}/v1 (clock: {clock})",
               nl=True)
    dispatcher = CallbackDispatcher(runtime, attempts=callback_attempts,
                                    backoff=callback_backoff, niceness=callback_niceness)
    app = create_app(runtime, public_url,
                     services=[dispatcher, EventRetention(runtime, event_retention_days)],
                     cors_origins=[o.strip() for o in cors_origins.split(",") if o.strip()])
    # No permessage-deflate on workers' WebSockets: it would double each idle connection's
    # memory for frames of a few hundred bytes.
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                timeout_graceful_shutdown=10, ws_per_message_deflate=False)


@main.group()
def accounts() -> None:
    """Manage accounts."""


def _emit(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows if len(rows) != 1 else rows[0], indent=2))
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
    """Create an account and print its SID and auth token."""
    runtime = open_runtime(data_dir, database_url)
    try:
        account = runtime.accounts.create_account(runtime.clock.now_ms(),
                                                  friendly_name=friendly_name)
        _emit([{"sid": account.sid, "friendly_name": account.friendly_name,
                "auth_token": account.auth_token}], as_json)
    finally:
        runtime.stop()


@accounts.command("list")
@DATA_DIR
@DATABASE_URL
@AS_JSON
def accounts_list(data_dir: Path, database_url: str | None, as_json: bool) -> None:
    """List accounts."""
    runtime = open_runtime(data_dir, database_url)
    try:
        rows = [{"sid": a.sid, "friendly_name": a.friendly_name, "status": a.status}
                for a in runtime.accounts.accounts.values()]
        if as_json:
            click.echo(json.dumps(rows, indent=2))
        else:
            _emit(rows, False)
    finally:
        runtime.stop()


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
    """Create an API key and print its SID and secret (shown only now)."""
    runtime = open_runtime(data_dir, database_url)
    try:
        if account_sid not in runtime.accounts.accounts:
            raise click.ClickException(f"No account {account_sid}")
        key = runtime.accounts.create_key(account_sid, runtime.clock.now_ms(), friendly_name)
        _emit([{"sid": key.sid, "account_sid": key.account_sid,
                "friendly_name": key.friendly_name, "secret": key.secret}], as_json)
    finally:
        runtime.stop()


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

    runtime = open_runtime(data_dir, database_url)
    try:
        status = callback_status(runtime.store, workspace_sid)
    finally:
        runtime.stop()
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
