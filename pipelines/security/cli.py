"""`hazchem secrets ...`: the secrets a deployment provides (see pipelines/security/secrets.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines.cli_support import UserError, fail
from pipelines.security.secrets import SECRET_NAMES, init_secrets, secrets_dir, write_secret
from pipelines.settings import get_settings

secrets_app = typer.Typer(help="Secrets of this profile (never printed).", no_args_is_help=True)


@secrets_app.command("init")
def init(
    rotate: Annotated[bool, typer.Option(help="Replace existing secrets too.")] = False,
) -> None:
    """Generate every secret the platform uses that is not set yet (mode 0600 files)."""
    settings = get_settings()
    from pipelines.security.tokens import SIGNING_KEY, new_signing_key_pem

    try:
        written = init_secrets(settings, list(SECRET_NAMES), rotate=rotate)
        if rotate or not (secrets_dir(settings) / SIGNING_KEY).exists():
            write_secret(settings, SIGNING_KEY, new_signing_key_pem())
            written.append(SIGNING_KEY)
    except (UserError, OSError) as exc:
        fail(str(exc))
    total = len(SECRET_NAMES) + 1
    typer.echo(
        f"secrets: {len(written)} generated, {total - len(written)} kept in {secrets_dir(settings)}"
    )


@secrets_app.command("list")
def list_names() -> None:
    """Name every secret and whether it is set (values are never shown)."""
    settings = get_settings()
    folder = secrets_dir(settings)
    from pipelines.security.tokens import SIGNING_KEY

    for name in (*SECRET_NAMES, SIGNING_KEY):
        typer.echo(f"{name:<32} {'set' if (folder / name).exists() else 'missing'}")


auth_app = typer.Typer(
    help="Principals of the identity store: people and services, roles, passwords.",
    no_args_is_help=True,
)


def _store():  # noqa: ANN202 - an IdentityStore
    from pipelines.security.identity import IdentityStore

    settings = get_settings()
    try:
        return IdentityStore(settings)
    except UserError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - psycopg2's errors: one line, no traceback
        fail(f"identity store unreachable (hazchem up --with postgres?): {exc}")


def _read_password(from_stdin: bool) -> str:
    """Read a password from stdin (one line) or a hidden prompt; never from argv."""
    import sys

    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


@auth_app.command("create")
def auth_create(
    name: Annotated[str, typer.Argument(help="Principal name (person id, or a service name).")],
    kind: Annotated[str, typer.Option(help="person or service.")] = "service",
    role: Annotated[list[str] | None, typer.Option(help="Role (repeat for several).")] = None,
    topic: Annotated[
        list[str] | None, typer.Option(help="A gateway's own input topic (repeat; none: all).")
    ] = None,
    display_name: Annotated[str, typer.Option(help="Name shown to people.")] = "",
) -> None:
    """Create a principal (no password yet: set one with `hazchem auth passwd`)."""
    store = _store()
    try:
        p = store.create(name, kind, role or [], display_name, topic or None)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"created {p.name} ({p.kind}) roles: {', '.join(p.roles) or '-'}")


@auth_app.command("list")
def auth_list() -> None:
    """List principals: name, kind, roles, password set, locked, disabled."""
    for p in _store().list():
        flags = [f for f, on in (("no-password", not p.has_password), ("disabled", p.disabled),
                                 ("locked", p.locked_until is not None)) if on]  # fmt: skip
        typer.echo(f"{p.name:<24} {p.kind:<8} {','.join(p.roles) or '-':<32} {' '.join(flags)}")


@auth_app.command("passwd")
def auth_passwd(
    name: Annotated[str, typer.Argument(help="Principal name.")],
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Set a principal's password (prompted, or one line on stdin; never an argument)."""
    store = _store()
    try:
        store.set_password(name, _read_password(stdin))
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"password set for {name}")


@auth_app.command("grant")
def auth_grant(
    name: Annotated[str, typer.Argument(help="Principal name.")],
    role: Annotated[list[str], typer.Argument(help="Roles to add.")],
) -> None:
    """Add roles to a principal."""
    try:
        p = _store().grant(name, role)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"{p.name} roles: {', '.join(p.roles)}")


@auth_app.command("revoke")
def auth_revoke(name: Annotated[str, typer.Argument(help="Principal name.")]) -> None:
    """Disable a principal and revoke its refresh tokens (its access token expires within
    auth.access_token_s)."""
    try:
        _store().revoke_principal(name)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"revoked {name}")


@auth_app.command("seed-people")
def auth_seed_people() -> None:
    """Create a principal for each person of the plant model whose role maps to platform roles
    (pipelines/security/identity.PERSON_ROLES); passwords are set with `hazchem auth passwd`."""
    from pipelines.plant import load_plant

    plant = load_plant(get_settings().simulator.plant_file)
    created = _store().seed_people(plant.people)
    typer.echo(f"people: {len(created)} principals created")
