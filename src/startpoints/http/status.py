"""The status page (`GET /`): the catalog as a table and this node's pull state per image.

Rendered here, on the server, so the table is there without scripts (curl, a text browser,
a screenshot); one small script swaps in a fresh copy every two seconds. One self-contained
document: no build step, no external assets. Every value is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from startpoints.core import words

_GITHUB = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+")
_PULLING = ("pulling", "checking")

_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>start points</title>
<style>
  :root { font: 14px/1.4 system-ui, sans-serif; color: #222; background: #fafafa; }
  body { margin: 1.5rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  #summary { margin: 0 0 1rem; color: #555; }
  table { border-collapse: collapse; width: 100%; table-layout: fixed; background: #fff; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e3e3e3;
           vertical-align: top; overflow-wrap: anywhere; }
  th { background: #f0f0f0; font-weight: 600; }
  th.name { width: 12%; } th.image { width: 20%; } th.state { width: 26%; }
  th.sp { width: 17%; } th.rev { width: 8%; } th.source { width: 17%; }
  code { font: 12px ui-monospace, monospace; overflow-wrap: anywhere; }
  .state { font-weight: 600; }
  .present { color: #1a7f37; } .pulling, .checking { color: #9a6700; }
  .failed { color: #cf222e; } .waiting, .unknown, .not-pulled { color: #777; }
  .error { color: #cf222e; font-size: 12px; font-weight: normal; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>start points</h1>
"""

_TAIL = """<script>
"use strict";
// The table is rendered by the server; this only swaps in a fresh copy.
setInterval(async () => {
  try {
    const page = await fetch(location.pathname, {cache: "no-store"}).then(r => r.text());
    const fresh = new DOMParser().parseFromString(page, "text/html").getElementById("content");
    if (fresh) document.getElementById("content").replaceWith(fresh);
  } catch (e) { /* the service is restarting: keep what is shown */ }
}, 2000);
</script>
</body>
</html>
"""


def render(
    start_points: Sequence[Mapping[str, Any]],
    states: Mapping[str, Mapping[str, Any]],
    ready: bool,
    progress: Mapping[str, Any] | None = None,
    superseded: Mapping[str, Any] | None = None,
    previous: Sequence[str] = (),
) -> str:
    """The page for these start points (as /start_points lists them) and pull `states` and
    `progress` (as /status lists them; empty when this service does not pre-pull);
    `previous`: the replaced catalog's names /manifest still answers."""
    rows = "".join(_row(sp, states) for sp in start_points)
    told = summary(start_points, states, ready) + _bytes(progress or {})
    for registry, until in (progress or {}).get("rate_limited", {}).items():
        told += f"; rate limited by {registry} until ~{until}"
    for registry, why in (progress or {}).get("denied", {}).items():
        told += f"; {registry}: {why}"
    for move in (progress or {}).get("moved", {}).values():
        told += f"; {move}"
    return (
        _HEAD
        + '<div id="content">\n'
        + f'<p id="summary">{escape(told)}</p>\n'
        + "<table>\n<thead><tr>"
        + '<th class="name">name</th><th class="image">language image</th>'
        + '<th class="state">on this node</th><th class="sp">start-point image</th>'
        + '<th class="rev">revision</th><th class="source">source</th>'
        + f"</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n"
        + _superseded(superseded or {})
        + _previous(previous)
        + "</div>\n"
        + _TAIL
    )


def summary(
    start_points: Sequence[Mapping[str, Any]], states: Mapping[str, Mapping[str, Any]], ready: bool
) -> str:
    images = {str(sp.get("image_name")) for sp in start_points if sp.get("image_name")}
    head = f"{words.count(len(start_points), 'start point')}, {words.count(len(images), 'language image')}"
    if not states:
        return f"{head}; not pre-pulling on this node"
    found = [str(states.get(image, {}).get("state", "waiting")) for image in sorted(images)]
    present = found.count("present")
    pulling = sum(state in _PULLING for state in found)
    failed = found.count("failed")
    return f"{head} on this node: {present} present, {pulling} pulling, {failed} failed" + (
        " \u2014 ready" if ready else " \u2014 warming"
    )


def _bytes(progress: Mapping[str, Any]) -> str:
    """ "; 1.2 GiB of 3.4 GiB, about 2 min left", where sizes are known."""
    total, done = progress.get("bytes_total"), progress.get("bytes_done")
    if not isinstance(total, int) or not isinstance(done, int) or total <= 0:
        return ""
    eta = progress.get("eta_seconds")
    left = f", about {words.duration(eta)} left" if isinstance(eta, int | float) and eta > 0 else ""
    return f"; {words.size(done)} of {words.size(total)}{left}"


def _previous(names: Sequence[str]) -> str:
    if not names:
        return ""
    head = f"Answered by /manifest for clients of the catalog this one replaced: {words.count(len(names), 'name')}"
    items = "".join(f"<li>{escape(name)}</li>\n" for name in names)
    return f'<p id="previous">{escape(head)}</p>\n<ul>\n{items}</ul>\n'


def _superseded(superseded: Mapping[str, Any]) -> str:
    """The catalog's repositories' images under tags it no longer names, on this node."""
    images = superseded.get("images") or []
    if not images:
        return ""
    items = "".join(
        f"<li><code>{escape(str(e.get('image')))}</code> {escape(words.size(int(e.get('bytes') or 0)))}"
        f" \u2014 {escape(str(e.get('state')))}</li>\n"
        for e in images
    )
    total = words.size(int(superseded.get("bytes") or 0))
    head = f"Superseded on this node: {words.count(len(images), 'image')}, {total} to free"
    return f'<p id="superseded">{escape(head)}</p>\n<ul>\n{items}</ul>\n'


def _row(sp: Mapping[str, Any], states: Mapping[str, Mapping[str, Any]]) -> str:
    image = str(sp.get("image_name") or "")
    state = states.get(image) if states else None
    name = str(state["state"]) if state else "not pulled here"
    css = name if state else "not-pulled"
    if state and state.get("state") == "pulling" and isinstance(state.get("size"), int):
        name += f" {words.size(int(state.get('fetched') or 0))} of {words.size(state['size'])}"
    error = "".join(
        f'<div class="error">{escape(str(state[key]))}</div>'
        for key in ("error", "moved")
        if state and state.get(key)
    )
    return (
        "<tr>"
        + f"<td>{escape(str(sp.get('name') or ''))}</td>"
        + f"<td>{_code(image, _short(sp.get('image_digest')))}</td>"
        + f'<td class="state {escape(css)}">{escape(name)}{error}</td>'
        + f"<td>{_code(sp.get('start_point_image'), _short(sp.get('start_point_digest')))}</td>"
        + f"<td>{_revision(sp)}</td>"
        + f"<td>{_code(sp.get('source'))}</td>"
        + "</tr>\n"
    )


def _revision(sp: Mapping[str, Any]) -> str:
    """The commit's sha7, linked to the commit where the repository is on GitHub."""
    revision = str(sp.get("revision") or "")
    if not revision:
        return ""
    shown = f"<code>{escape(revision[:7])}</code>"
    for where in (sp.get("repository"), sp.get("source")):
        url = str(where or "").removesuffix(".git")
        if _GITHUB.fullmatch(url) and re.fullmatch(r"[0-9a-f]{7,64}", revision):
            return f'<a href="{escape(url)}/commit/{escape(revision)}">{shown}</a>'
    return shown


def _code(main: Any, sub: str = "") -> str:
    text = f"<code>{escape(str(main or ''))}</code>"
    return text + (f"<br><code>{escape(sub)}</code>" if sub else "")


def _short(digest: Any) -> str:
    return f"{digest[:19]}\u2026" if isinstance(digest, str) and digest else ""
