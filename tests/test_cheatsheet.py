"""The cheat sheet covers every rule of the DBOS Python skill, each linked to a section that exists."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHEATSHEET = ROOT / "book" / "cheatsheet.md"

# The rule files of the DBOS Python skill (../shared/reference/dbos-python-skill/), by category.
RULES = """
    lifecycle-config lifecycle-fastapi
    workflow-background workflow-constraints workflow-determinism workflow-timeout
    workflow-introspection workflow-attributes workflow-control
    step-basics step-retries step-transactions
    queue-basics queue-concurrency queue-rate-limiting queue-priority queue-deduplication
    queue-partitioning queue-listening queue-management
    comm-messages comm-events comm-streaming
    pattern-idempotency pattern-scheduled pattern-debouncing pattern-classes pattern-sleep
    test-fixtures client-setup client-enqueue
    advanced-async advanced-patching advanced-serialization advanced-shared-database
    advanced-upgrading-v3 advanced-versioning
""".split()


def defined_labels() -> set[str]:
    """Every MyST target `(label)=` in the notebooks' markdown cells and the book's pages."""
    texts = [p.read_text() for p in (ROOT / "book").glob("*.md")]
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(nb.read_text())["cells"]
        texts += ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    return {m for text in texts for m in re.findall(r"^\(([\w-]+)\)=\s*$", text, re.M)}


def rows() -> dict[str, str]:
    table_rows = re.findall(r"^\| `([\w-]+)` \|(.*)$", CHEATSHEET.read_text(), re.M)
    return {rule: rest for rule, rest in table_rows}


SKILL = ROOT.parent / "shared" / "reference" / "dbos-python-skill"


@pytest.mark.skipif(not SKILL.is_dir(), reason="the DBOS skill's rule files are not beside this "
                    "repository (../shared/reference/): nothing to compare RULES with")
def test_rules_are_the_skills_rule_files():
    """RULES is the list of the skill's rule files, so a rule added upstream shows up here."""
    files = {p.stem for p in SKILL.glob("*.md") if p.stem != "SKILL"}
    assert len(RULES) == len(set(RULES))
    assert sorted(set(RULES) ^ files) == [], "RULES and the skill's rule files differ"


def test_every_rule_has_a_line_and_nothing_else_does():
    found = rows()
    assert sorted(set(RULES) - set(found)) == [], "rules missing from the cheat sheet"
    assert sorted(set(found) - set(RULES)) == [], "cheat sheet rows that are not rules"


def test_every_rule_links_to_a_section_that_exists():
    labels = defined_labels()
    for rule, rest in rows().items():
        links = re.findall(r"\{ref\}`([\w-]+)`", rest)
        assert links, f"{rule}: no link to the section that shows it"
        missing = [link for link in links if link not in labels]
        assert not missing, f"{rule}: links to sections that do not exist: {missing}"
