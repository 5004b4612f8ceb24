"""The `callcard` command: a click group whose subcommands live in callcard/commands/ and load lazily."""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> "module:attribute"; each subcommand module imports only what it needs.
COMMANDS: dict[str, str] = {
    "serve": "callcard.commands.serve:serve",
    "db": "callcard.commands.db:db",
    "users": "callcard.commands.users:users",
    "orgs": "callcard.commands.orgs:orgs",
    "apikeys": "callcard.commands.apikeys:apikeys",
    "models": "callcard.commands.models:models",
    "transcribe": "callcard.commands.transcribe:transcribe",
    "asr": "callcard.commands.asr_quality:asr",
    "classify": "callcard.commands.classify:classify",
    "classifier": "callcard.commands.classifier:classifier",
    "demo-call": "callcard.commands.demo_call:demo_call",
    "qa-sample": "callcard.commands.qa_sample:qa_sample",
    "qa": "callcard.commands.qa:qa",
    "retention": "callcard.commands.retention:retention",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        command: click.Command = getattr(module, attr)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="callcard")
def cli() -> None:
    """callcard: live transcripts and card proposals for a 109 hotline."""


def main(argv: list[str] | None = None) -> Any:
    """Console entry point."""
    return cli.main(args=argv, prog_name="callcard")


if __name__ == "__main__":
    main()
