"""The second line: which organisation owns a confirmed card's problem, and handing the card over to it.

routing (the pure engine), hours (working hours), orgfile (the organisations file, YAML or CSV), directory (the
stored organisations and rules). Knows nothing of HTTP or Asterisk.
"""
