// Webmail enhancements (ui/mail). The pages work without this file: plain links and forms.
'use strict';

// Live updates of the message list: the server pushes the folder counts when the mailbox
// changes (Server-Sent Events from /events, beside the /counts URL); without EventSource, or
// when the stream keeps failing, the counts are polled instead. When the shown folder
// changed the list reloads, or offers the reload; folder badges are updated in place.
(() => {
  const section = document.getElementById('message-list-section');
  if (!section || !window.fetch) return;
  const url = section.dataset.countsUrl;
  const folder = section.dataset.folder;
  const shown = section.dataset.state;
  const note = document.getElementById('new-mail');
  const selecting = () => document.querySelector('input[name="uid"]:checked') !== null;
  const apply = (counts) => {
    counts.forEach((f) => {
      const badge = document.querySelector(`a[data-folder="${f.id}"] [data-unread]`);
      if (badge) {
        badge.textContent = String(f.unread);
        badge.classList.toggle('hidden', f.unread === 0);
      }
      if (String(f.id) === folder && `${f.messages}:${f.unread}` !== shown) {
        // Never throw away a selection the reader is making: offer the reload instead.
        if (selecting() || document.activeElement && document.activeElement.form) {
          if (note) note.classList.remove('hidden');
        } else {
          window.location.reload();
        }
      }
    });
  };
  const poll = async () => {
    if (document.hidden) return;
    let counts;
    try {
      const response = await fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      if (!response.ok) return;
      counts = await response.json();
    } catch (_) {
      return;
    }
    apply(counts);
  };
  let polling = null;
  const startPolling = () => {
    if (polling === null) polling = window.setInterval(poll, 15000);
  };
  if (!window.EventSource) {
    startPolling();
    return;
  }
  // Like the poll, a hidden tab does not reload: the latest counts wait until it is shown.
  let waiting = null;
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && waiting) {
      const counts = waiting;
      waiting = null;
      apply(counts);
    }
  });
  // The server ends each stream after a minute and the browser reconnects by itself, so one
  // error is normal; this many in a row without the stream opening again means it cannot
  // work here (a proxy cutting it, the session gone).
  const maxFailures = 3;
  let failures = 0;
  const listen = () => {
    const events = new EventSource(url.replace(/\/counts$/, '/events'));
    events.addEventListener('open', () => { failures = 0; });
    events.addEventListener('counts', (event) => {
      let counts;
      try {
        counts = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      if (document.hidden) {
        waiting = counts;
      } else {
        apply(counts);
      }
    });
    events.addEventListener('error', () => {
      failures += 1;
      if (failures >= maxFailures) {
        events.close();
        startPolling();
      } else if (events.readyState === EventSource.CLOSED) {
        // Refused outright (not text/event-stream): the browser will not retry by itself.
        window.setTimeout(listen, 5000);
      }
    });
  };
  listen();
})();

// Drafts saved automatically: every ~20 s when the form changed since the last save, posted
// like the "Save draft" button; the answer's draft number replaces the previous draft.
(() => {
  const form = document.getElementById('compose-form');
  if (!form || !window.fetch || !window.FormData) return;
  const status = document.getElementById('autosave-status');
  const replaces = document.getElementById('replaces-draft');
  const seconds = Number(form.dataset.autosave) || 20;
  let changed = false;
  let sending = false;
  form.addEventListener('input', () => { changed = true; });
  form.addEventListener('change', () => { changed = true; });
  form.addEventListener('submit', () => { sending = true; });
  // The saved draft now holds the uploaded files: list them as kept, empty the file input.
  const showKept = (kept) => {
    const files = document.getElementById('attachments');
    let fieldset = document.getElementById('kept-attachments');
    if (!fieldset) {
      fieldset = document.createElement('fieldset');
      fieldset.id = 'kept-attachments';
      fieldset.className = 'kept';
      files.closest('label').before(fieldset);
    }
    const removed = new Set(Array.from(fieldset.querySelectorAll('input[name="remove"]:checked'))
      .map((box) => box.value));
    fieldset.replaceChildren();
    const legend = document.createElement('legend');
    legend.textContent = 'Attached files';
    fieldset.append(legend);
    kept.forEach((k) => {
      const hidden = document.createElement('input');
      hidden.type = 'hidden'; hidden.name = 'kept'; hidden.value = k.key;
      const label = document.createElement('label');
      label.className = 'inline';
      const box = document.createElement('input');
      box.type = 'checkbox'; box.name = 'remove'; box.value = k.key;
      box.checked = removed.has(k.key);
      label.append(box, ` Remove ${k.name}`);
      fieldset.append(hidden, label);
    });
    fieldset.classList.toggle('hidden', kept.length === 0);
    files.value = '';
  };
  const save = async () => {
    if (!changed || sending) return;
    changed = false;
    const data = new FormData(form);
    data.set('action', 'save');
    try {
      const response = await fetch(form.action, {
        method: 'POST', body: data, credentials: 'same-origin',
        headers: { Accept: 'application/json' },
      });
      const answer = await response.json();
      if (response.ok && answer.draft !== undefined) {
        replaces.value = String(answer.draft);
        showKept(answer.kept || []);
        const time = new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
        if (status) status.textContent = `Draft saved at ${time}.`;
      } else {
        changed = true;
        if (status) status.textContent = answer.error || 'The draft could not be saved.';
      }
    } catch (_) {
      changed = true;
      if (status) status.textContent = 'The draft could not be saved; check your connection.';
    }
  };
  window.setInterval(save, seconds * 1000);
})();
