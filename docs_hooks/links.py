"""MkDocs hook: links that point outside docs/ lead to the site's own copy of the file.

The Markdown in docs/ is read on GitHub as well as on the site, so it links to files where
they live in the repository (``../examples/source_case.py``, ``../CHANGELOG.md``); the
changelog, included into the site whole, links to ``docs/ledger.md`` from the repository's
root. On the site those files are pages of their own (source-case.md, changelog.md): the
links are rewritten when a page is built, the Markdown files stay as they are. The notebook
is served as it is, to download. The changelog page is CHANGELOG.md itself, read here (not
by a snippet, which would be expanded after this hook) so that its links can be made
relative to docs/. The generated reference loses the Sphinx role markers (``:meth:``) its
docstrings carry.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

OUTSIDE_DOCS = {
    "../examples/source_case.py": "source-case.md",
    "../CHANGELOG.md": "changelog.md",
    "../examples/notebook.ipynb": "examples/notebook.ipynb",
}
#: Files from outside docs/ that the site serves as they are, to download.
SHIPPED = ("examples/notebook.ipynb",)
_LINK = re.compile(r"\]\((?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?\)")


def _rewrite(markdown: str, from_root: bool) -> str:
    def replace(match: re.Match[str]) -> str:
        target, anchor = match["target"], match["anchor"] or ""
        if from_root and target.startswith("docs/"):
            target = target.removeprefix("docs/")
        target = OUTSIDE_DOCS.get(target, target)
        return f"]({target}{anchor})"

    return _LINK.sub(replace, markdown)


# The docstrings cross-reference with Sphinx roles (:meth:`sweep`), which the Google-style
# renderer leaves as text before the code: the site shows the name alone.
_ROLE = re.compile(r":(?:meth|class|func|attr|exc|mod|data|obj):(?=<code>)")


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    """The page's HTML without the Sphinx role markers the docstrings carry."""
    return _ROLE.sub("", html)


def on_files(files: Any, config: Any) -> Any:
    """Add the files the site serves for download (the notebook) to the site's files."""
    from mkdocs.structure.files import File

    root = Path(config["config_file_path"]).parent
    for name in SHIPPED:
        files.append(File.generated(config, name, abs_src_path=str(root / name)))
    return files


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """The page's Markdown with links outside docs/ turned into links to site pages."""
    if page.file.src_uri == "changelog.md":
        root = Path(kwargs["config"]["config_file_path"]).parent
        return _rewrite((root / "CHANGELOG.md").read_text(encoding="utf-8"), from_root=True)
    return _rewrite(markdown, from_root=False)
