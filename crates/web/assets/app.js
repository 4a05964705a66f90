// Postwerk: progressive enhancement shared by every page. Every page works without it.
'use strict';

// <form data-confirm="Delete 3 addresses?">: ask before sending.
document.addEventListener('submit', (event) => {
  const form = event.target;
  const submitter = event.submitter;
  const text = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
  if (text && !window.confirm(text)) {
    event.preventDefault();
  }
});

// <input type=checkbox data-select-all="name">: checks every checkbox named `name` in its form.
document.addEventListener('change', (event) => {
  const box = event.target;
  if (!box.dataset || !box.dataset.selectAll) return;
  const form = box.form || document;
  form.querySelectorAll(`input[type=checkbox][name="${box.dataset.selectAll}"]`)
    .forEach((other) => { other.checked = box.checked; });
});

// <button data-copy="#id">: copies the text of an element (one-time passwords, DNS records).
document.addEventListener('click', (event) => {
  const button = event.target.closest('[data-copy]');
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (source && navigator.clipboard) {
    navigator.clipboard.writeText(source.textContent.trim()).then(() => {
      button.textContent = 'Copied';
    });
  }
});
