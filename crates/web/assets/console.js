// Postwerk Manager console: live progress of a CSV import (ADDR-3). The page works without
// it: it reloads itself (a <noscript> refresh) or by the Reload link.
'use strict';

(() => {
  const job = document.getElementById('job');
  if (!job || job.dataset.jobRunning !== 'true') return;
  const set = (id, text) => {
    const element = document.getElementById(id);
    if (element) element.textContent = text;
  };
  const lines = (title, problems) => {
    if (!problems.length) return;
    const box = document.getElementById('job-lines');
    const heading = document.createElement('h2');
    heading.textContent = title;
    const list = document.createElement('ul');
    problems.forEach((p) => {
      const item = document.createElement('li');
      item.textContent = `Line ${p.line} (${p.address}): ${p.reason}`;
      list.appendChild(item);
    });
    box.append(heading, list);
  };
  const poll = () => {
    fetch(`/manager/jobs/${encodeURIComponent(job.dataset.job)}/progress`, {
      credentials: 'same-origin', headers: { Accept: 'application/json' },
    })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((state) => {
        set('job-done', state.done);
        set('job-total', state.total);
        set('job-created', state.created);
        const bar = document.getElementById('job-progress');
        if (bar) { bar.max = state.total || 1; bar.value = state.done; }
        if (state.status === 'running') {
          window.setTimeout(poll, 1000);
          return;
        }
        // Ended: this answer carries the result file, handed out once — show it here.
        set('job-state', state.status === 'failed' ? 'The import stopped.' : 'Done.');
        set('job-error', state.error || '');
        const reload = document.getElementById('job-reload');
        if (reload) reload.remove();
        lines('Skipped lines', state.skipped);
        lines('Lines that failed', state.failed);
        if (state.result_csv) {
          set('result-csv', state.result_csv);
          document.getElementById('result').classList.remove('hidden');
        }
      })
      .catch(() => { set('job-state', 'Progress unavailable; reload the page.'); });
  };
  window.setTimeout(poll, 500);
})();
