"""How makemigrations shows the linter's findings on the migrations it writes: rules that fire on
most models of a new project (``int-pk-overflow``) become one line per migration; ``lint`` still
lists every finding."""

from __future__ import annotations

from dataclasses import dataclass

from ..lint import RULES, Finding

SUMMARIES = {
    "int-pk-overflow": "{count} primary keys ({subjects}) are 32 bits or smaller and can run out "
    "of values",
}
"""Rules that fire on most models of a new project: one line per migration, not per model."""


@dataclass(frozen=True)
class FindingSummary(Finding):
    """Several findings of one rule in one migration, shown as one line."""

    subjects: tuple[str, ...] = ()

    def as_text(self) -> str:
        """Return ``app.migration rule-id: N subjects (...) ...; instead: ...``."""
        return (
            f"{self.app}.{self.migration} {self.rule}: {self.reason}; instead: "
            f"{self.alternative} (`lint` lists them one by one)"
        )


def summarised(findings: list[Finding]) -> list[Finding]:
    """Return ``findings`` with those of each rule in SUMMARIES folded into one line, where the
    first of them was."""
    out: list[Finding] = []
    for finding in findings:
        if finding.rule not in SUMMARIES:
            out.append(finding)
            continue
        same = [f for f in findings if f.rule == finding.rule]
        if len(same) == 1:
            out.append(finding)
        elif finding is same[0]:
            out.append(_summary(same))
    return out


def _summary(findings: list[Finding]) -> FindingSummary:
    first = findings[0]
    prefix, _, suffix = RULES[first.rule][0].partition("{subject}")
    subjects = tuple(f.reason.removeprefix(prefix).removesuffix(suffix) for f in findings)
    reason = SUMMARIES[first.rule].format(count=len(subjects), subjects=", ".join(subjects))
    return FindingSummary(
        first.rule,
        first.app,
        first.migration,
        first.index,
        first.operation,
        reason,
        first.alternative,
        subjects,
    )
