"""The status page (`GET /`): the catalog as a table and this node's pull state per image.

One self-contained HTML document: no build step, no external assets. It refreshes itself
from `/start_points` and `/status` every two seconds.
"""

PAGE = """<!doctype html>
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
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e3e3e3; vertical-align: top; }
  th { background: #f0f0f0; font-weight: 600; }
  code { font: 12px ui-monospace, monospace; word-break: break-all; }
  .state { font-weight: 600; white-space: nowrap; }
  .present { color: #1a7f37; } .pulling, .checking { color: #9a6700; }
  .failed { color: #cf222e; } .waiting, .unknown { color: #777; }
  .error { color: #cf222e; font-size: 12px; }
</style>
</head>
<body>
<h1>start points</h1>
<p id="summary">loading&hellip;</p>
<table>
  <thead><tr><th>name</th><th>language image</th><th>on this node</th><th>start-point image</th><th>revision</th><th>source</th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<script>
"use strict";
const short = (d) => d ? d.slice(0, 19) + "\\u2026" : "";
function cell(row, text, cls) {
  const td = row.insertCell();
  if (cls) td.className = cls;
  td.textContent = text ?? "";
  return td;
}
function code(row, main, sub) {
  const td = row.insertCell();
  const c = document.createElement("code");
  c.textContent = main ?? "";
  td.appendChild(c);
  if (sub) { td.appendChild(document.createElement("br")); const s = document.createElement("code"); s.textContent = sub; td.appendChild(s); }
}
async function refresh() {
  try {
    const [sp, st] = await Promise.all([fetch("start_points").then(r => r.json()), fetch("status").then(r => r.json())]);
    const images = st.images || {};
    const rows = document.getElementById("rows");
    rows.replaceChildren();
    for (const s of sp.start_points) {
      const row = rows.insertRow();
      cell(row, s.name);
      code(row, s.image_name, short(s.image_digest));
      const state = (images[s.image_name] || {state: st.pulling ? "unknown" : "not pulled here"});
      const td = cell(row, state.state, "state " + state.state);
      if (state.error) { const e = document.createElement("div"); e.className = "error"; e.textContent = state.error; td.appendChild(e); }
      code(row, s.start_point_image, short(s.start_point_digest));
      code(row, s.revision ? s.revision.slice(0, 7) : "");
      code(row, s.source);
    }
    const done = Object.values(images).filter(i => i.state === "present").length;
    document.getElementById("summary").textContent =
      `${sp.start_points.length} start points, ${Object.keys(images).length} language images` +
      (st.pulling ? `, ${done} present on this node` : ", not pre-pulling") + (st.ready ? " \\u2014 ready" : " \\u2014 warming");
  } catch (e) {
    document.getElementById("summary").textContent = "cannot reach the service: " + e;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""
