"""One module per `callcard` subcommand."""
