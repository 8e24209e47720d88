"""The repository's committed results (``results/``), for the lessons that quote them.

``results/`` is not part of the installed package: a notebook finds it only when it runs
inside a clone of the repository (in ``lessons/`` or at the root). ``find_results()`` is then
that folder, else None, and a lesson shows the committed file or says where to read it.
"""
from pathlib import Path


def find_results(start=None):
    """The results/ folder of the clone that ``start`` (default: the current folder) lies in, or None."""
    start = Path.cwd() if start is None else Path(start)
    for folder in (start, *start.parents):
        if (folder / "results" / "README.md").is_file() and (folder / "minialex" / "__init__.py").is_file():
            return folder / "results"
    return None


def markdown_tables(path, heading):
    """The tables under ``## heading`` of the markdown file ``path``, each a list of {column: cell} rows,
    cells as written."""
    text = Path(path).read_text()
    section = text[text.index(f"## {heading}"):]
    section = section[:section.find("\n## ", 3)] if "\n## " in section[3:] else section
    tables, rows = [], []
    for line in section.splitlines() + [""]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            header, body = rows[0], rows[2:]  # rows[1] is the |---| line
            tables.append([dict(zip(header, row)) for row in body])
            rows = []
    return tables
