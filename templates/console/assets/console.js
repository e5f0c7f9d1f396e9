// The console's progressive enhancement: every page works without it.
(function () {
  'use strict';
  var csrf = function () {
    var el = document.querySelector('input[name=_csrf]');
    return el ? el.value : '';
  };

  // Destructive buttons ask first.
  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('[data-confirm]');
    if (b && !window.confirm(b.getAttribute('data-confirm'))) e.preventDefault();
  });

  // Live previews of the article page and its email while editing.
  var editor = document.getElementById('editor');
  var frames = document.querySelectorAll('iframe[data-preview]');
  if (editor && frames.length) {
    var timer = 0;
    var seq = 0;
    var refresh = function () {
      var mine = ++seq;
      var body = new URLSearchParams(new FormData(editor));
      body.delete('action');
      Array.prototype.forEach.call(frames, function (frame) {
        fetch(frame.dataset.preview, { method: 'POST', body: body, credentials: 'same-origin', headers: { 'x-csrf-token': csrf() } })
          .then(function (r) { return r.text(); })
          .then(function (html) { if (mine === seq) frame.srcdoc = html; })
          .catch(function () { /* the last preview stays */ });
      });
    };
    editor.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 350);
    });
    if (!frames[0].getAttribute('src')) refresh();
  }

  // Send and job progress, polled until it ends; then the page is loaded again for the final report.
  var poll = document.querySelector('[data-poll]');
  if (poll) {
    var set = function (sel, text) {
      var el = poll.querySelector(sel);
      if (el) el.textContent = text;
    };
    var tick = function () {
      fetch(poll.dataset.poll, { credentials: 'same-origin', headers: { accept: 'application/json' } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (s) {
          if (!s.running) return window.location.reload();
          set('[data-field=status]', s.status);
          if (s.percent !== undefined) {
            set('[data-field=percent]', String(s.percent));
            var bar = poll.querySelector('progress');
            if (bar) { bar.value = s.percent; bar.textContent = s.percent + '%'; }
          }
          if (s.counts) Object.keys(s.counts).forEach(function (k) { set('[data-count=' + k + ']', String(s.counts[k])); });
          if (s.eta) set('[data-field=eta]', s.eta.slice(0, 19).replace('T', ' ') + ' UTC');
          setTimeout(tick, 1000);
        })
        .catch(function () { setTimeout(tick, 5000); });
    };
    setTimeout(tick, 1000);
  }

  // The growth chart (uPlot); the table under it has the same figures.
  var chart = document.getElementById('chart');
  if (chart && chart.dataset.growth && window.uPlot) {
    var g = JSON.parse(chart.dataset.growth);
    var dark = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches;
    var ink = dark ? '#e6edf3' : '#1f2328';
    var grid = dark ? '#3d444d' : '#d0d7de';
    var xs = g.dates.map(function (d) { return Date.parse(d + 'T00:00:00Z') / 1000; });
    var axis = { stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid } };
    var draw = function () {
      chart.textContent = '';
      new window.uPlot({
        width: Math.max(280, chart.clientWidth),
        height: 260,
        tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'); },
        series: [
          {},
          { label: 'Confirmed', stroke: dark ? '#7ee2a8' : '#116329', width: 2 },
          { label: 'Unsubscribed', stroke: dark ? '#f2cc60' : '#7a4d00', width: 2 },
          { label: 'Suppressed', stroke: dark ? '#ff8f80' : '#b42318', width: 2 },
          { label: 'Erased', stroke: dark ? '#d2a8ff' : '#6e40c9', width: 2 },
          { label: 'Net', stroke: dark ? '#8ab4f8' : '#1a56db', width: 3 },
        ],
        axes: [axis, axis],
      }, [xs, g.confirmed, g.unsubscribed, g.suppressed, g.erased, g.net], chart);
    };
    draw();
    var resized = 0;
    window.addEventListener('resize', function () { clearTimeout(resized); resized = setTimeout(draw, 200); });
  }
})();
