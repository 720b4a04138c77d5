"""Files odtool writes with a schema and a version (dataset manifests, run configs, artifact
manifests, family files): one way to stamp them and one way to check them when read."""

from __future__ import annotations

from typing import Any, Collection

from toolchain import __version__


def stamped(schema: str, version: int, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with its schema, version and the odtool that wrote it (``created_by``)."""
    return {**body, "schema": schema, "version": version, "created_by": f"odtool {__version__}"}


def version_problem(doc: Any, schema: str, what: str, newest: int,
                    supported: Collection[int] | None = None) -> str | None:
    """What is wrong with a read document's schema or version, or None.

    ``what`` names the file's kind in the message ("dataset", "run", "artifact", ...);
    ``supported`` (default: every version up to ``newest``) lists the versions this odtool reads."""
    if not isinstance(doc, dict):
        return f"not a {what} file (its JSON is not an object)"
    if doc.get("schema") != schema:
        return f"schema is {doc.get('schema')!r}, expected {schema!r}"
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        return f"{what} version {version!r} is not a version number"
    if supported is not None and version not in supported:
        return (f"{what} version {version} is not supported by odtool {__version__} "
                f"(supported: {', '.join(map(str, sorted(supported)))})")
    if version > newest:
        return f"{what} version {version} is newer than this odtool understands ({newest})"
    return None
