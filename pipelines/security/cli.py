"""`hazchem secrets ...`: the secrets a deployment provides (see pipelines/security/secrets.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines.cli_support import UserError, fail
from pipelines.security.secrets import SECRET_NAMES, init_secrets, secrets_dir
from pipelines.settings import get_settings

secrets_app = typer.Typer(help="Secrets of this profile (never printed).", no_args_is_help=True)


@secrets_app.command("init")
def init(
    rotate: Annotated[bool, typer.Option(help="Replace existing secrets too.")] = False,
) -> None:
    """Generate every secret the platform uses that is not set yet (mode 0600 files)."""
    settings = get_settings()
    try:
        written = init_secrets(settings, list(SECRET_NAMES), rotate=rotate)
    except (UserError, OSError) as exc:
        fail(str(exc))
    typer.echo(
        f"secrets: {len(written)} generated, {len(SECRET_NAMES) - len(written)} kept"
        f" in {secrets_dir(settings)}"
    )


@secrets_app.command("list")
def list_names() -> None:
    """Name every secret and whether it is set (values are never shown)."""
    settings = get_settings()
    folder = secrets_dir(settings)
    for name in SECRET_NAMES:
        typer.echo(f"{name:<32} {'set' if (folder / name).exists() else 'missing'}")
