/// The page at `GET /`: one HTML file with its styles and script inline, no build step and no
/// external assets. It draws a bar per device split by model (colour by priority, hatched
/// reservations, grey foreign memory, a dashed line where the cushion starts), the models with
/// load/unload buttons, the queue and the last events, and redraws from `/v1/events`.
///
/// The script is in `StatusPage+Script.swift`, which also says how the page works behind the
/// token. Elements carry `data-` attributes (`data-device`, `data-model`, `data-bytes`,
/// `data-state`) that the browser tests compare with `/v1/status`.
enum StatusPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vramd</title>
<style>
  :root { --p0: #3b82f6; --p1: #22c55e; --p2: #eab308; --p3: #06b6d4; --p4: #ef4444; --foreign: #9ca3af; --free: #f3f4f6; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #111827; background: #fff; }
  h1 { font-size: 1.3em; margin: 0 0 .8em; } h2 { font-size: 1.05em; margin: 1.4em 0 .5em; }
  .device { margin-bottom: 1.2em; }
  .device-head { margin-bottom: .3em; } .device-head .sub { color: #6b7280; }
  .bar { position: relative; display: flex; height: 34px; background: var(--free); border: 1px solid #d1d5db; border-radius: 4px; overflow: hidden; }
  .seg { height: 100%; box-sizing: border-box; border-right: 1px solid #fff; color: #fff; font-size: 12px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; padding: 8px 4px 0; }
  .seg.p0 { background: var(--p0); } .seg.p1 { background: var(--p1); } .seg.p2 { background: var(--p2); color: #111; } .seg.p3 { background: var(--p3); } .seg.p4 { background: var(--p4); }
  .seg.reservation { color: #111; background: repeating-linear-gradient(45deg, #c4b5fd 0 6px, #ede9fe 6px 12px); }
  .seg.foreign { background: var(--foreign); }
  .cushion { position: absolute; top: 0; bottom: 0; width: 0; border-left: 2px dashed #111827; }
  .legend { color: #6b7280; font-size: 12px; margin-top: .2em; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
  th { font-weight: 600; background: #f9fafb; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .state { padding: 1px 6px; border-radius: 8px; font-size: 12px; background: #e5e7eb; }
  .state.ready { background: #dcfce7; } .state.loading, .state.unloading { background: #fef9c3; } .state.failed { background: #fee2e2; }
  .error { color: #b91c1c; font-size: 12px; max-width: 28em; overflow-wrap: anywhere; }
  button { font: inherit; padding: 1px 8px; margin-right: 4px; cursor: pointer; }
  #events li { margin: 2px 0; } #events .time { color: #6b7280; font-variant-numeric: tabular-nums; margin-right: .6em; }
  #auth { padding: 1em; background: #fef3c7; border-radius: 6px; margin-bottom: 1em; }
  #problem { color: #b91c1c; }
  .swatch { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 8px; border-radius: 2px; vertical-align: middle; }
</style>
</head>
<body>
<h1>vramd <span id="summary" class="legend"></span></h1>
<form id="auth" hidden>
  <label>This vramd needs its API token: <input id="token-input" type="password" autocomplete="off" size="40"></label>
  <button type="submit">Use token</button>
</form>
<p id="problem" hidden></p>
<section id="devices"></section>
<p class="legend">Colour by priority:
  <span class="swatch" style="background:var(--p0)"></span>0 <span class="swatch" style="background:var(--p1)"></span>1
  <span class="swatch" style="background:var(--p2)"></span>2 <span class="swatch" style="background:var(--p3)"></span>3
  <span class="swatch" style="background:var(--p4)"></span>4 · hatched: reserved · grey: foreign · dashed line: the cushion starts</p>
<h2>Models</h2>
<table>
  <thead><tr><th>model</th><th>state</th><th>prio</th><th>device</th><th>footprint</th><th>busy</th><th>queued</th><th>last used</th><th>idle unload</th><th>loads</th><th>last load</th><th>last error</th><th></th></tr></thead>
  <tbody id="models"></tbody>
</table>
<h2>Queue</h2>
<p id="queue"></p>
<h2>Last events</h2>
<ul id="events"></ul>
<script>
\#(script)
</script>
</body>
</html>
"""#
}
