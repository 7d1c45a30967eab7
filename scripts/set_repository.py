"""Point the book's repository, issues and Binder buttons at a real repository.

    python scripts/set_repository.py https://github.com/OWNER/NAME [_config.yml]

_config.yml names no repository, so a local build shows no buttons that lead nowhere. The publish
workflow runs this with the repository it runs in before `make book`: the published pages then
link to it, and Binder opens it in JupyterLab (it builds an environment from environment.yml and
opens the whole repository, so each chapter finds notebooks/booktools; Colab would open a notebook
alone, without them, so it is not offered).
"""

import re
import sys
from pathlib import Path

PUBLISHED = """
repository:
  url: {url}
  branch: main
launch_buttons:
  binderhub_url: https://mybinder.org
  notebook_interface: jupyterlab
"""


def set_repository(config: str, url: str) -> str:
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise SystemExit(f"not a GitHub repository URL: {url!r}")
    config = config.replace("use_repository_button: false", "use_repository_button: true")
    config = config.replace("use_issues_button: false", "use_issues_button: true")
    return config.rstrip() + "\n" + PUBLISHED.format(url=url)


if __name__ == "__main__":
    path = Path(sys.argv[2] if len(sys.argv) > 2 else "_config.yml")
    path.write_text(set_repository(path.read_text(), sys.argv[1]))
