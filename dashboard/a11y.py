"""Small browser helpers that Streamlit has no widget for: a visible "Copy link" button and a
keyboard skip link to the scenario inputs.

Both are plain HTML drawn with ``st.html`` and one delegated script (installed once per
browser tab), so they work inside popovers and survive reruns. No component package is
needed: the page talks to the browser's clipboard and focus directly.
"""

from __future__ import annotations

import html

import streamlit as st

#: The script behind both helpers: one click handler on the document (idempotent).
_SCRIPT = """
<script>
(() => {
  if (window.__acosimA11y) return;
  window.__acosimA11y = true;
  const copy = async (text) => {
    try { await navigator.clipboard.writeText(text); return true; } catch (e) {}
    const ta = document.createElement('textarea');
    ta.value = text; ta.setAttribute('readonly', ''); ta.style.position = 'fixed'; ta.style.opacity = '0';
    document.body.appendChild(ta); ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (e) {}
    ta.remove();
    return ok;
  };
  document.addEventListener('click', async (ev) => {
    const btn = ev.target.closest('button.acosim-copy');
    if (btn) {
      ev.preventDefault();
      const ok = await copy(btn.dataset.copy || '');
      const note = btn.parentElement.querySelector('.acosim-copied');
      if (note) {
        note.textContent = ok ? 'Copied' : 'Select the link and press Ctrl+C';
        clearTimeout(btn.__t); btn.__t = setTimeout(() => { note.textContent = ''; }, 4000);
      }
      return;
    }
    const skip = ev.target.closest('a.acosim-skip');
    if (skip) {
      ev.preventDefault();
      const side = document.querySelector('[data-testid="stSidebar"]');
      if (!side) return;
      if (side.getAttribute('aria-expanded') === 'false') {  // a collapsed sidebar: open it first
        const open = document.querySelector('[data-testid="stExpandSidebarButton"] button, [data-testid="stExpandSidebarButton"]');
        if (open) open.click();
      }
      const target = side.querySelector(skip.dataset.target || 'summary') ||
                     side.querySelector('button, summary, input, [tabindex="0"]');
      if (target) { target.focus(); target.scrollIntoView({block: 'nearest'}); }
    }
  }, true);
})();
</script>
"""

_CSS = """
<style>
.acosim-copyrow {display: flex; align-items: center; gap: 10px; margin: -0.4rem 0 0.2rem 0;}
.acosim-copy {font: inherit; font-size: 0.9rem; padding: 4px 12px; border-radius: 8px; cursor: pointer;
              border: 1px solid #b9c2cc; background: #fff; color: #1f2933;}
.acosim-copy:hover {border-color: #1f4e79; color: #1f4e79;}
.acosim-copy:focus-visible {outline: 2px solid #1f4e79; outline-offset: 2px;}
.acosim-copied {font-size: 0.85rem; color: #5f6b7a;}
.acosim-skip {position: absolute; left: -10000px; top: auto; width: 1px; height: 1px; overflow: hidden;}
.acosim-skip:focus {position: static; width: auto; height: auto; display: inline-block; padding: 4px 10px;
                    border: 2px solid #1f4e79; border-radius: 6px; background: #fff; color: #1f4e79;}
</style>
"""


def copy_button(text: str, label: str = "Copy link") -> None:
    """A button, always visible, that copies ``text`` to the clipboard and says so."""
    st.html(f'{_CSS}<div class="acosim-copyrow"><button type="button" class="acosim-copy" '
            f'data-copy="{html.escape(text, quote=True)}" aria-label="{html.escape(label)}">'
            f'{html.escape(label)}</button><span class="acosim-copied" role="status" '
            f'aria-live="polite"></span></div>{_SCRIPT}', unsafe_allow_javascript=True)


def skip_to_inputs(label: str = "Skip to scenario inputs") -> None:
    """A skip link, first in the page's main area, shown when it gets keyboard focus: Enter
    moves the focus to the first group of the scenario panel in the sidebar (from the top
    menu, a handful of Tab stops instead of going through every control of the page)."""
    st.html(f'{_CSS}<a href="#" class="acosim-skip" data-target="summary">{html.escape(label)}</a>{_SCRIPT}',
            unsafe_allow_javascript=True)
