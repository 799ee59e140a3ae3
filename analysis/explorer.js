// The report's explorer (analysis/explorer.py): controls over the runs embedded as JSON, three canvases.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("explorer-data").textContent);
  var runs = data.runs, keys = ["config", "d", "beta", "l2", "seed"];
  var selects = keys.map(function (k) { return document.getElementById("ex-" + k); });
  if (!runs.length) { document.getElementById("explorer-run").textContent = "No runs to explore."; return; }

  function unpack(p) {  // uint16 little-endian base64 -> array of rows [k]
    var bin = atob(p.q), n = bin.length / 2 / p.k, out = [];
    for (var i = 0; i < n; i++) {
      var row = [];
      for (var j = 0; j < p.k; j++) {
        var o = 2 * (i * p.k + j), q = bin.charCodeAt(o) | (bin.charCodeAt(o + 1) << 8);
        row.push(p.lo[j] + q / 65535 * (p.hi[j] - p.lo[j]));
      }
      out.push(row);
    }
    return out;
  }
  function text(k, v) { return v === null ? "n/a" : String(v); }
  function fill(i) {  // options of control i from the runs matching controls 0..i-1; keep the value if valid
    var match = runs.filter(function (r) {
      for (var j = 0; j < i; j++) { if (text(keys[j], r[keys[j]]) !== selects[j].value) return false; }
      return true;
    });
    var values = [];
    match.forEach(function (r) { var v = r[keys[i]]; if (values.indexOf(v) < 0) values.push(v); });
    if (keys[i] === "d") values.sort(function (a, b) { return b - a; });  // the 2-D latent first
    else if (keys[i] !== "config") values.sort(function (a, b) { return (a === null) - (b === null) || a - b; });
    var old = selects[i].value;
    selects[i].innerHTML = "";
    values.forEach(function (v) {
      var o = document.createElement("option");
      o.value = text(keys[i], v); o.textContent = text(keys[i], v);
      selects[i].appendChild(o);
    });
    var texts = values.map(function (v) { return text(keys[i], v); });
    selects[i].value = texts.indexOf(old) >= 0 ? old : texts[0];
  }
  function current() {
    return runs.filter(function (r) {
      return keys.every(function (k, j) { return text(k, r[k]) === selects[j].value; });
    })[0];
  }
  function axes(ctx, w, lim, square) {
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, w);
    ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
    if (square) {
      ctx.fillStyle = "#eee"; ctx.fillRect(lim.x(0), lim.y(1), lim.x(1) - lim.x(0), lim.y(0) - lim.y(1));
      ctx.strokeRect(lim.x(0), lim.y(1), lim.x(1) - lim.x(0), lim.y(0) - lim.y(1));
    }
  }
  function scale(lo, hi, w) {
    return { x: function (v) { return (v - lo) / (hi - lo) * w; }, y: function (v) { return w - (v - lo) / (hi - lo) * w; } };
  }
  function dots(ctx, pts, s, colour) {
    pts.forEach(function (p, i) {
      ctx.fillStyle = typeof colour === "function" ? colour(i) : colour;
      ctx.fillRect(s.x(p[0]) - 1.5, s.y(p[1]) - 1.5, 3, 3);
    });
  }
  function draw(run) {
    var colour = function (i) { return data.colours[+run.quadrant[i]]; };
    var mu = unpack(run.mu), w = 300, ctx = document.getElementById("ex-latent-canvas").getContext("2d");
    var reach = 3;
    mu.forEach(function (p) { p.forEach(function (v) { reach = Math.max(reach, Math.abs(v) * 1.05); }); });
    var s = scale(-reach, reach, w);
    axes(ctx, w, s, false);
    ctx.setLineDash([2, 3]);
    if (run.d === 1) {  // μ against a fixed jitter, as in Fig. 2; dotted: μ = 0, ±1, ±2 (the prior's σ)
      [-2, -1, 0, 1, 2].forEach(function (v) { ctx.beginPath(); ctx.moveTo(s.x(v), 0); ctx.lineTo(s.x(v), w); ctx.stroke(); });
      mu = mu.map(function (p, i) { return [p[0], ((i * 0.6180339887) % 1) * 2 * reach / 3 - reach / 3]; });
    } else {  // dotted: the prior's 1σ and 2σ circles
      [1, 2].forEach(function (r) { ctx.beginPath(); ctx.arc(s.x(0), s.y(0), r / (2 * reach) * w, 0, 2 * Math.PI); ctx.stroke(); });
    }
    ctx.setLineDash([]);
    document.getElementById("ex-latent-caption").textContent = run.d === 1 ?
      "latent μ(x) against jitter (dotted: μ = 0, ±1, ±2), coloured by input quadrant" :
      "latent μ(x) (dotted: the prior's 1σ and 2σ circles), coloured by input quadrant";
    dots(ctx, mu.map(function (p) { return [p[0], p.length > 1 ? p[1] : 0]; }), s, colour);
    var sq = scale(-0.08, 1.08, w);
    ctx = document.getElementById("ex-recon-canvas").getContext("2d");
    axes(ctx, w, sq, true); dots(ctx, unpack(run.recon), sq, colour);
    ctx = document.getElementById("ex-generated-canvas").getContext("2d");
    axes(ctx, w, sq, true); dots(ctx, unpack(run.generated), sq, "#555");
    document.getElementById("explorer-run").textContent = "run " + run.id + ": " + run.config + ", d = " +
      run.d + ", β = " + text("beta", run.beta) + ", λ = " + text("l2", run.l2) + ", seed " + run.seed +
      " (latent axes ±" + reach.toFixed(2) + ")";
    document.getElementById("explorer-run").setAttribute("data-run", run.id);
    var body = document.getElementById("ex-metrics");
    body.innerHTML = "";
    run.metrics.forEach(function (m) {
      var tr = document.createElement("tr"), a = document.createElement("th"), b = document.createElement("td");
      a.textContent = m[0]; b.textContent = m[1]; tr.appendChild(a); tr.appendChild(b); body.appendChild(tr);
    });
  }
  function update(from) {
    for (var i = from; i < keys.length; i++) fill(i);
    draw(current());
  }
  selects.forEach(function (sel, i) { sel.addEventListener("change", function () { update(i + 1); }); });
  update(0);
})();
