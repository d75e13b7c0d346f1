// A small stacked bar chart drawn as inline SVG: categories along x, one bar per
// category made of the series' values stacked; a legend, the axis maximum, and a
// tooltip (<title>) on each piece.
"use strict";

const Chart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 480, H = 220, LEFT = 56, BOTTOM = 40, TOP = 24;

  function svg(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // series: [{name, color, values: [number per category]}]; format: number -> label.
  function bars(container, categories, series, format) {
    const fmt = format || ((n) => Number(n).toLocaleString("en-US"));
    const totals = categories.map((_, i) => series.reduce((s, x) => s + (x.values[i] || 0), 0));
    const max = Math.max(0, ...totals);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "bars" });
    root.dataset.total = totals.reduce((a, b) => a + b, 0);
    const plotH = H - TOP - BOTTOM, plotW = W - LEFT - 8;
    root.append(svg("line", { x1: LEFT, y1: H - BOTTOM, x2: W - 8, y2: H - BOTTOM, class: "axis" }));
    root.append(svg("text", { x: LEFT - 6, y: TOP + 4, "text-anchor": "end", class: "tick" }, fmt(max)));
    root.append(svg("text", { x: LEFT - 6, y: H - BOTTOM, "text-anchor": "end", class: "tick" }, "0"));
    if (!categories.length) {
      root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "tick" }, "no usage in this range"));
    }
    const slot = plotW / Math.max(categories.length, 1);
    const barW = Math.min(48, slot * 0.7);
    categories.forEach((category, i) => {
      const x = LEFT + i * slot + (slot - barW) / 2;
      let y = H - BOTTOM;
      for (const s of series) {
        const value = s.values[i] || 0;
        const h = max ? (value / max) * plotH : 0;
        y -= h;
        const rect = svg("rect", { x, y, width: barW, height: h, fill: s.color, "data-series": s.name, "data-value": value });
        rect.append(svg("title", {}, `${category} · ${s.name}: ${fmt(value)}`));
        root.append(rect);
      }
      const label = category.length > 14 ? category.slice(0, 13) + "…" : category;
      root.append(svg("text", { x: x + barW / 2, y: H - BOTTOM + 14, "text-anchor": "middle", class: "tick" }, label));
    });
    let lx = LEFT;
    for (const s of series) {
      root.append(svg("rect", { x: lx, y: 6, width: 10, height: 10, fill: s.color }));
      root.append(svg("text", { x: lx + 14, y: 15, class: "tick" }, s.name));
      lx += 18 + s.name.length * 7;
    }
    container.replaceChildren(root);
  }

  return { bars };
})();
