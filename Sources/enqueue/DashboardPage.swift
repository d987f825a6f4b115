import Hummingbird

/// The dashboard's one page: HTML, CSS and JavaScript as Swift strings, so
/// the `enqueue` binary serves it with no resource files and the page loads
/// nothing from elsewhere (it works offline).
///
/// Everything that came from the fleet (actor ids, states, bodies, reasons,
/// error texts) goes into the page as text nodes (`textContent`), never as
/// HTML, so a body holding `<script>` shows as those characters.
enum DashboardPage {
    static func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in
            Response(status: .ok,
                     headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: html)))
        }
    }

    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Greenroom dashboard</title>
        <style>\(css)</style>
        </head>
        <body>
        <header>
          <h1>Greenroom</h1>
          <span id="updated" class="muted">connecting…</span>
        </header>
        <div id="error" class="error" hidden></div>
        <section class="cards">
          <div class="card"><div class="label">live workers</div><div class="value" id="worker-count">—</div></div>
          <div class="card"><div class="label">partitions owned</div><div class="value" id="partitions-owned">—</div></div>
          <div class="card"><div class="label">messages queued</div><div class="value" id="queued">—</div></div>
          <div class="card"><div class="label">dead letters</div><div class="value" id="dead-count">—</div></div>
        </section>
        <div id="warnings"></div>
        <section>
          <h2>Workers</h2>
          <table id="workers"><thead><tr><th>id</th><th>host</th><th>pid</th><th>types</th><th>partitions</th><th>concurrency</th><th>last seen</th></tr></thead><tbody></tbody></table>
        </section>
        <section>
          <h2>Turns by actor type</h2>
          <table id="rates"><thead><tr><th>type</th><th>turns/s</th><th>mean latency</th><th>dead-lettered/s</th><th>retried/s</th><th>committed since start</th></tr></thead><tbody></tbody></table>
        </section>
        <section>
          <h2>Partitions and queues</h2>
          <div id="partitions"></div>
        </section>
        <section>
          <h2>Dead letters</h2>
          <div id="dead-stats" class="muted"></div>
          <form id="dead-filter" class="row">
            <input name="type" placeholder="type (e.g. counter)">
            <input name="reason" placeholder="reason text or class (e.g. exhausted)">
            <input name="id" placeholder="message id">
            <input name="limit" type="number" min="1" max="100000" value="50" title="at most this many">
            <button type="submit">Show</button>
            <button type="button" id="replay-matching">Replay matching…</button>
            <button type="button" id="purge-matching" class="danger">Purge matching…</button>
          </form>
          <div id="dead-result" class="muted"></div>
          <table id="dead"><thead><tr><th>target</th><th>kind</th><th>message id</th><th>reason</th><th>attempts</th><th>dead at</th><th></th></tr></thead><tbody></tbody></table>
          <pre id="dead-inspect" hidden></pre>
        </section>
        <section>
          <h2>Actor lookup</h2>
          <form id="actor-form" class="row">
            <input name="address" id="actor-address" placeholder="type/id" size="40">
            <button type="submit">Look up</button>
          </form>
          <div id="actor"></div>
        </section>
        <footer class="muted">Polls every 2 s. Reads the same RabbitMQ and Redis as <code>enqueue status</code>.</footer>
        <script>\(script)</script>
        </body>
        </html>
        """

    static let css = """
        :root { --fg: #1d2330; --muted: #687287; --line: #dde1e8; --bg: #f6f7f9; --accent: #2f6f4f; --bad: #b3261e; }
        * { box-sizing: border-box; }
        body { margin: 0 auto; max-width: 1240px; padding: 16px 20px; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
        header { display: flex; align-items: baseline; gap: 16px; }
        h1 { margin: 0 0 8px; font-size: 22px; color: var(--accent); }
        h2 { margin: 20px 0 8px; font-size: 16px; }
        .muted { color: var(--muted); }
        .error { background: #fdecea; color: var(--bad); border: 1px solid #f5c2bd; padding: 8px 12px; border-radius: 6px; margin: 8px 0; white-space: pre-wrap; }
        .warning { background: #fff4e5; border: 1px solid #f3d19e; padding: 8px 12px; border-radius: 6px; margin: 8px 0; }
        .cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin-top: 8px; }
        .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
        .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
        .card .value { font-size: 26px; font-weight: 600; }
        table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
        th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { background: #eef0f4; font-weight: 600; font-size: 12px; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        td { word-break: break-word; }
        details { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin-bottom: 6px; padding: 6px 10px; }
        summary { cursor: pointer; }
        .row { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0; }
        input { padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; font: inherit; }
        input[type=number] { width: 90px; }
        button { padding: 5px 10px; border: 1px solid var(--accent); background: #fff; color: var(--accent); border-radius: 4px; cursor: pointer; font: inherit; }
        button.danger { border-color: var(--bad); color: var(--bad); }
        button.small { padding: 1px 6px; font-size: 12px; }
        pre { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow: auto; max-height: 420px; }
        .bar { display: inline-block; height: 8px; background: var(--accent); border-radius: 2px; vertical-align: middle; }
        footer { margin-top: 24px; }
        """

    static let script = #"""
        "use strict";
        // Builds an element; strings become text nodes, never HTML.
        function el(tag, attributes, ...children) {
          const node = document.createElement(tag);
          for (const [name, value] of Object.entries(attributes || {})) {
            if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
            else node.setAttribute(name, value);
          }
          for (const child of children.flat()) {
            node.append(child instanceof Node ? child : document.createTextNode(child == null ? "" : String(child)));
          }
          return node;
        }
        const $ = (id) => document.getElementById(id);
        const dash = "\u2014";
        const number = (value, digits) => value == null ? dash : value.toFixed(digits);

        async function api(path, options) {
          const response = await fetch(path, options);
          let body;
          try { body = await response.json(); } catch (e) { throw new Error(path + ": HTTP " + response.status + ", not JSON"); }
          if (!response.ok) throw new Error(body.error || (path + ": HTTP " + response.status));
          return body;
        }
        function post(path, body) {
          return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        }
        function showError(error) {
          $("error").hidden = !error;
          $("error").textContent = error ? String(error.message || error) : "";
        }
        function fill(tbody, rows, empty, columns) {
          tbody.replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: String(columns), class: "muted" }, empty))]));
        }

        // ?type=a,b shows only those types' partitions (a server with many types answers faster).
        const partitionTypes = new URLSearchParams(location.search).get("type") || "";
        let lastDeadCount = null;
        async function refreshStatus() {
          let reply;
          try {
            reply = await api("/api/status" + (partitionTypes ? "?type=" + encodeURIComponent(partitionTypes) : ""));
          } catch (error) {
            showError(error);
            $("updated").textContent = "not updated since " + ($("updated").dataset.at || "start");
            return;
          }
          showError(null);
          const { status, rates } = reply;
          const now = reply.readAt;
          const at = new Date().toLocaleTimeString();
          $("updated").dataset.at = at;
          $("updated").textContent = "updated " + at;
          $("worker-count").textContent = String(status.workers.length);
          const owned = status.partitions.filter((p) => p.owner != null).length;
          $("partitions-owned").textContent = owned + " / " + status.partitions.length;
          $("queued").textContent = String(status.partitions.reduce((sum, p) => sum + (p.depth || 0), 0));
          $("dead-count").textContent = String(status.deadLetters);
          $("warnings").replaceChildren(...(status.typesWithoutData || []).map((type) => el("div", { class: "warning" },
            "DATA LOST: live workers host '" + type + "' but Redis has no record of it; they do not consume it (see enqueue reset-after-data-loss --help).")));

          fill($("workers").tBodies[0], status.workers.map((w) => el("tr", {},
            el("td", {}, w.info.id), el("td", {}, w.info.host), el("td", { class: "num" }, w.info.pid),
            el("td", {}, w.info.types.join(", ")), el("td", { class: "num" }, w.partitions),
            el("td", { class: "num" }, w.info.concurrency),
            el("td", {}, w.info.lastSeenMilliseconds == null ? "?" : Math.max(0, now - w.info.lastSeenMilliseconds) + " ms ago"))),
            "no live workers", 7);

          fill($("rates").tBodies[0], rates.map((r) => el("tr", {},
            el("td", {}, r.type), el("td", { class: "num" }, number(r.turnsPerSecond, 1)),
            el("td", { class: "num" }, r.meanLatencyMilliseconds == null ? dash : r.meanLatencyMilliseconds.toFixed(1) + " ms"),
            el("td", { class: "num" }, number(r.deadLetteredPerSecond, 2)), el("td", { class: "num" }, number(r.retriedPerSecond, 2)),
            el("td", { class: "num" }, r.committedTotal))),
            "no turn figures yet (" + dash + "): workers report them with their heartbeats", 6);

          renderPartitions(status.partitions);
          if (status.deadLetters !== lastDeadCount) {
            lastDeadCount = status.deadLetters;
            refreshDead();
          }
        }

        const openTypes = new Set();
        function renderPartitions(partitions) {
          const byType = new Map();
          for (const p of partitions) {
            if (!byType.has(p.type)) byType.set(p.type, []);
            byType.get(p.type).push(p);
          }
          const deepest = partitions.reduce((most, p) => Math.max(most, p.depth || 0), 1);
          const block = ([type, list]) => {
            const owners = new Set(list.map((p) => p.owner).filter((o) => o != null));
            const depth = list.reduce((sum, p) => sum + (p.depth || 0), 0);
            const details = el("details", { ontoggle: () => details.open ? openTypes.add(type) : openTypes.delete(type) },
              el("summary", {}, el("strong", {}, type), "  " + list.length + " partitions, " + list.filter((p) => p.owner != null).length +
                " owned by " + owners.size + " worker" + (owners.size === 1 ? "" : "s") + ", " + depth + " queued"),
              el("table", {}, el("thead", {}, el("tr", {}, ["queue", "owner", "depth", "consumers", ""].map((h) => el("th", {}, h)))),
                el("tbody", {}, list.map((p) => el("tr", {},
                  el("td", {}, p.queue), el("td", {}, p.owner == null ? "unowned" : p.owner),
                  el("td", { class: "num" }, p.depth == null ? "no queue" : p.depth),
                  el("td", { class: "num" }, p.consumers == null ? dash : p.consumers),
                  el("td", {}, el("span", { class: "bar", style: "width:" + Math.round(120 * (p.depth || 0) / deepest) + "px" })))))));
            details.open = openTypes.has(type);
            return details;
          };
          // Types a live worker owns partitions of first; the others (no worker
          // runs them now, or left by a test) folded into one block, queued ones first.
          const types = [...byType.entries()];
          const owned = types.filter(([, list]) => list.some((p) => p.owner != null));
          const queued = (list) => list.reduce((sum, p) => sum + (p.depth || 0), 0);
          const idle = types.filter(([, list]) => !list.some((p) => p.owner != null)).sort((a, b) => queued(b[1]) - queued(a[1]));
          const blocks = owned.map(block);
          if (idle.length) {
            const others = el("details", { ontoggle: () => others.open ? openTypes.add("") : openTypes.delete("") },
              el("summary", {}, idle.length + " type" + (idle.length === 1 ? "" : "s") + " no live worker owns, " +
                idle.reduce((sum, [, list]) => sum + queued(list), 0) + " queued"),
              idle.map(block));
            others.open = openTypes.has("");
            blocks.push(others);
          }
          $("partitions").replaceChildren(...(blocks.length ? blocks : [el("p", { class: "muted" }, "no actor types yet")]));
        }

        function deadFilter() {
          const form = new FormData($("dead-filter"));
          const filter = {};
          for (const name of ["type", "reason", "id"]) {
            const value = String(form.get(name) || "").trim();
            if (value) filter[name] = value;
          }
          const limit = parseInt(String(form.get("limit") || ""), 10);
          if (limit > 0) filter.limit = limit;
          return filter;
        }
        function describeFilter(filter) {
          const parts = ["type", "reason", "id"].filter((k) => filter[k]).map((k) => k + " " + JSON.stringify(filter[k]));
          return parts.length ? parts.join(", ") : "no filter: every dead letter";
        }
        function pretty(text) {
          try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
        }

        // One refresh at a time; a request for another while one runs makes one more after it.
        let deadRefresh = null;
        let deadAgain = false;
        function refreshDead() {
          if (deadRefresh) { deadAgain = true; return deadRefresh; }
          deadRefresh = (async () => {
            do { deadAgain = false; await loadDead(); } while (deadAgain);
            deadRefresh = null;
          })();
          return deadRefresh;
        }

        async function loadDead() {
          const filter = deadFilter();
          const query = new URLSearchParams(Object.entries(filter).map(([k, v]) => [k, String(v)]));
          try {
            // One after the other: a browse holds the letters it reads until it
            // ends, so two at once would each see only part of the queue.
            const { letters } = await api("/api/dead?" + query);
            const stats = await api("/api/dead/stats");
            fill($("dead").tBodies[0], letters.map((letter) => el("tr", {},
              el("td", {}, letter.target || "(no target)"), el("td", {}, letter.kind || "?"), el("td", {}, letter.messageID || "?"),
              el("td", {}, letter.reason), el("td", { class: "num" }, letter.attempts),
              el("td", {}, letter.deadAt ? new Date(letter.deadAt * 1000).toLocaleString() : "?"),
              el("td", {},
                el("button", { type: "button", class: "small", onclick: () => inspect(letter) }, "inspect"), " ",
                letter.messageID ? el("button", { type: "button", class: "small", onclick: () => change("replay", { id: letter.messageID }) }, "replay") : "", " ",
                letter.messageID ? el("button", { type: "button", class: "small danger", onclick: () => change("purge", { id: letter.messageID }) }, "purge") : ""))),
              "no dead letters match", 7);
            $("dead-stats").textContent = stats.total + " in the queue" + (stats.groups.length ? ": " : "") +
              stats.groups.slice(0, 8).map((g) => (g.type || "(no target)") + " / " + g.reasonClass + " " + g.count).join(", ");
          } catch (error) {
            $("dead-result").textContent = String(error.message || error);
          }
        }

        async function inspect(letter) {
          const box = $("dead-inspect");
          box.hidden = false;
          box.textContent = "loading " + (letter.messageID || "") + "…";
          let full = letter;
          if (letter.messageID) {
            try {
              const { letters } = await api("/api/dead?limit=1&id=" + encodeURIComponent(letter.messageID));
              if (letters.length) full = letters[0];
            } catch (error) {
              box.textContent = String(error.message || error);
              return;
            }
          }
          const fields = Object.assign({}, full);
          delete fields.body;
          box.textContent = "headers and fields:\n" + JSON.stringify(fields, null, 2) + "\n\nbody:\n" + pretty(full.body);
        }

        async function change(action, filter) {
          const words = action === "replay" ? "Send back to their actors" : "Delete for good";
          if (!confirm(words + " the dead letters matching " + describeFilter(filter) + (filter.limit ? " (at most " + filter.limit + ")" : "") + "?")) return;
          const body = Object.assign({}, filter);
          if (action === "purge") { delete body.limit; if (!body.type && !body.reason && !body.id) body.all = true; }
          try {
            const reply = await post("/api/dead/" + action, body);
            $("dead-result").textContent = action === "replay" ? "replayed " + reply.replayed : "purged " + reply.purged;
          } catch (error) {
            $("dead-result").textContent = String(error.message || error);
          }
          refreshDead();
        }

        async function lookUp(address) {
          const box = $("actor");
          if (!address) { box.replaceChildren(); return; }
          box.replaceChildren(el("p", { class: "muted" }, "looking up " + address + "…"));
          try {
            const actor = await api("/api/actor?address=" + encodeURIComponent(address));
            box.replaceChildren(
              el("h3", {}, actor.address),
              el("pre", { id: "actor-state" }, pretty(actor.state)),
              el("div", {}, "children: ", actor.children.length ? "" : "none"),
              el("ul", { id: "actor-children" }, actor.children.map((child) =>
                el("li", {}, el("a", { href: "?actor=" + encodeURIComponent(child), onclick: (event) => { event.preventDefault(); go(child); } }, child)))));
          } catch (error) {
            box.replaceChildren(el("div", { class: "error", id: "actor-error" }, String(error.message || error)));
          }
        }
        function go(address) {
          $("actor-address").value = address;
          history.pushState(null, "", "?actor=" + encodeURIComponent(address));
          lookUp(address);
        }

        $("dead-filter").addEventListener("submit", (event) => { event.preventDefault(); refreshDead(); });
        $("replay-matching").addEventListener("click", () => change("replay", deadFilter()));
        $("purge-matching").addEventListener("click", () => change("purge", deadFilter()));
        $("actor-form").addEventListener("submit", (event) => { event.preventDefault(); go($("actor-address").value.trim()); });
        window.addEventListener("popstate", () => {
          const address = new URLSearchParams(location.search).get("actor") || "";
          $("actor-address").value = address;
          lookUp(address);
        });
        // ?dead-type=, ?dead-reason=, ?dead-id= fill the dead-letter filter (links to a filtered list).
        const parameters = new URLSearchParams(location.search);
        for (const name of ["type", "reason", "id"]) {
          const value = parameters.get("dead-" + name);
          if (value) $("dead-filter").elements[name].value = value;
        }
        const initial = parameters.get("actor");
        if (initial) { $("actor-address").value = initial; lookUp(initial); }
        // The next poll starts 2 s after the last one answered: a slow server is not asked twice at once.
        async function poll() {
          await refreshStatus();
          setTimeout(poll, 2000);
        }
        poll();
        """#
}
