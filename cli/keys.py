"""``reassembly keys create|list|revoke`` and the embedded mode's local key.

The commands work on the configured database (``REASSEMBLY_DATABASE_URL``, or the SQLite file under
``REASSEMBLY_DATA_DIR``), migrating it first like the service does. A token is printed once, on
stdout (so ``TOKEN=$(reassembly keys create ...)`` works); only its sha256 is stored.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

keys_app = typer.Typer(
    help="API keys: create (the token is shown once), list, revoke. Only a hash is stored.",
    no_args_is_help=True,
)
err = Console(stderr=True)
LOCAL_KEY_FILE = "local-api-key"
LOCAL_KEY_OWNER = "anonymous"  # the owner of everything created before keys existed, still visible


class KeyScope(StrEnum):
    read = "read"
    write = "write"
    admin = "admin"


def _sessions(settings: Settings) -> sessionmaker[Session]:
    from core.store.db import session_factory
    from core.store.migrate import upgrade

    upgrade(settings.resolved_database_url)
    return session_factory(settings.resolved_database_url)


@keys_app.command("create")
def create(
    owner: Annotated[str, typer.Option(help="Whose resources the key reaches.")],
    name: Annotated[str, typer.Option(help="A label, e.g. who or what uses it.")] = "",
    scope: Annotated[
        KeyScope, typer.Option(help="read: GET/HEAD; write: also POST/DELETE; admin: everything.")
    ] = KeyScope.read,
) -> None:
    """Create a key and print its token once (on stdout)."""
    from core.errors import InvalidInput
    from core.store.db import session_scope
    from core.store.keys import create_key

    try:
        with session_scope(_sessions(get_settings())) as session:
            key_id, token = create_key(session, owner, name, scope.value)
    except InvalidInput as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from exc
    err.print(f"created {key_id} for {owner} with scope {scope.value}; the token is shown only now:")
    print(token)


@keys_app.command("list")
def list_(owner: Annotated[str | None, typer.Option(help="Only this owner's keys.")] = None) -> None:
    """List keys (never their tokens)."""
    from core.store.db import session_scope
    from core.store.keys import list_keys

    with session_scope(_sessions(get_settings())) as session:
        found = list_keys(session, owner)
    table = Table("id", "owner", "name", "scope", "prefix", "created", "last used", "revoked")

    def when(t: object) -> str:
        return "" if t is None else f"{t:%Y-%m-%d %H:%M:%S}"

    for k in found:
        table.add_row(
            k.id, k.owner, k.name, k.scope, k.prefix + "…", when(k.created_at), when(k.last_used_at),
            when(k.revoked_at),
        )  # fmt: skip
    Console(width=200).print(table)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_...), as `keys list` shows.")],
) -> None:
    """Revoke a key: the next request that sends it is refused (401)."""
    from core.errors import NotFound
    from core.store.db import session_scope
    from core.store.keys import revoke_key

    try:
        with session_scope(_sessions(get_settings())) as session:
            info = revoke_key(session, key_id)
    except NotFound as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    print(f"revoked {info.id} ({info.owner}, {info.scope})")


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (mode 0600), replacing it atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def ensure_local_key(settings: Settings) -> tuple[Path, str | None]:
    """The embedded mode's admin key, in ``<data_dir>/local-api-key`` (mode 0600). Returns the file
    and the token when it was created now (to be printed once), or None when the file already held a
    valid key. A file whose key no longer resolves (database reset, key revoked) is replaced."""
    from core.store.db import session_scope
    from core.store.keys import create_key, resolve

    path = settings.resolved_data_dir / LOCAL_KEY_FILE
    sessions = _sessions(settings)
    if path.exists():
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        with session_scope(sessions) as session:
            if resolve(session, path.read_text().strip()) is not None:
                return path, None
    with session_scope(sessions) as session:
        _, token = create_key(session, LOCAL_KEY_OWNER, "local (reassembly serve)", "admin")
    _write_private(path, token + "\n")
    return path, token


def read_local_key(data_dir: Path) -> str:
    """The local key ``reassembly serve`` stored under ``data_dir`` (for the demo and local clients)."""
    return (data_dir / LOCAL_KEY_FILE).read_text().strip()
