"""The book's structure: table of contents, notebooks, and environment files agree."""

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


def test_every_notebook_is_in_the_table_of_contents():
    listed = set(toc_files())
    missing = [nb.name for nb in NOTEBOOKS if f"notebooks/{nb.stem}" not in listed]
    assert not missing, f"notebooks missing from _toc.yml: {missing}"


def test_every_toc_entry_exists():
    missing = [
        entry for entry in toc_files()
        if not any((ROOT / f"{entry}{ext}").exists() for ext in (".md", ".ipynb"))
    ]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_notebooks_are_numbered_chapters():
    for nb in NOTEBOOKS:
        number, _, topic = nb.stem.partition("_")
        assert number.isdigit() and len(number) == 2 and topic, f"{nb.name}: name it NN_topic.ipynb"


def test_environment_yml_installs_requirements_txt():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    assert "pip" in deps
    pip_sections = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert pip_sections == [["-r requirements.txt"]], (
        "environment.yml must install exactly requirements.txt through pip, so the two never differ"
    )


def test_requirements_are_pinned_exactly():
    lines = [
        line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    unpinned = [line for line in lines if "==" not in line]
    assert not unpinned, f"pin these with ==: {unpinned}"
    pins = dict(line.split("==") for line in lines)
    assert pins["dbos"].startswith("3.4.")
    assert pins["jupyter-book"].startswith("1.")


def test_a_local_build_has_no_buttons_that_lead_nowhere():
    """No placeholder repository: the publish workflow names the repository it runs in."""
    config = (ROOT / "_config.yml").read_text()
    assert "\nrepository:" not in config and "github.com" not in config
    assert "use_repository_button: false" in config
    publish = (ROOT / ".github" / "workflows" / "publish.yml").read_text()
    assert 'scripts/set_repository.py "https://github.com/${{ github.repository }}"' in publish
    assert publish.index("set_repository.py") < publish.index("- run: make book")


def test_set_repository_turns_the_buttons_on(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    from set_repository import set_repository

    config = yaml.safe_load(set_repository((ROOT / "_config.yml").read_text(),
                                           "https://github.com/someone/their-fork"))
    assert config["repository"]["url"] == "https://github.com/someone/their-fork"
    assert config["html"]["use_repository_button"] and config["html"]["use_issues_button"]
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"


def test_github_runs_what_ci_runs():
    """The pull-request workflow runs both suites of .ci/run, Postgres included."""
    ci = (ROOT / ".ci" / "run").read_text()
    workflow = (ROOT / ".github" / "workflows" / "test.yml").read_text()
    for command in ("make test", "make test-postgres"):
        assert command in ci and command in workflow
    assert "schedule:" in workflow
