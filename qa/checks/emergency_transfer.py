"""After the emergency banner the operator moves the caller to the emergency service within N seconds."""

from __future__ import annotations

from qa.base import CallFacts, CheckOutcome, CheckResult, Conversation
from qa.rules import EmergencyTransferRule
from qa.text import seconds


def check(rule: EmergencyTransferRule, talk: Conversation, facts: CallFacts) -> CheckResult:
    if facts.emergency_s is None:
        return CheckResult(rule.id, CheckOutcome.NOT_APPLICABLE, None, "No emergency banner was shown on this call.")
    code = f" {facts.emergency_code}" if facts.emergency_code else ""
    limit = rule.parameters.within_s
    if facts.transfer_s is not None:
        delay = facts.transfer_s - facts.emergency_s
        to = f" to {facts.transfer_code}" if facts.transfer_code else ""
        if delay <= limit:
            when = "before the banner" if delay < 0 else f"{seconds(delay)} after the banner"
            return CheckResult(
                rule.id, CheckOutcome.PASSED, facts.transfer_s, f"The caller was transferred{to} {when}{code}."
            )
        return CheckResult(
            rule.id,
            CheckOutcome.FAILED,
            facts.transfer_s,
            f"The caller was transferred{to} {seconds(delay)} after the{code} banner (limit {seconds(limit)}).",
        )
    if facts.emergency_dismissed_s is not None:
        return CheckResult(
            rule.id,
            CheckOutcome.NOT_APPLICABLE,
            facts.emergency_dismissed_s,
            f"The operator dismissed the{code} banner {seconds(facts.emergency_dismissed_s - facts.emergency_s)} "
            "after it appeared, judging it no emergency.",
        )
    return CheckResult(
        rule.id,
        CheckOutcome.FAILED,
        facts.emergency_s,
        f"The{code} banner appeared at {seconds(facts.emergency_s)} and the caller was never transferred.",
    )
